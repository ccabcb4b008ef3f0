"""Reading a note the way Obsidian does: frontmatter, title, tags, links, plain text."""

from notellm.engine.markdown import parse_note


def test_title_comes_from_frontmatter_then_first_heading_then_file_name():
    assert parse_note("---\ntitle: From YAML\n---\n# Heading\n", "file").title == "From YAML"
    assert parse_note("intro\n\n# The **Heading**\n", "file").title == "The Heading"
    assert parse_note("no heading here", "file name").title == "file name"


def test_tags_from_frontmatter_lists_strings_and_inline_but_not_code_or_headings():
    source = (
        "---\ntags: [alpha, '#beta']\ntag: gamma delta\n---\n"
        "# Heading is no tag\n\nText #inline and #nested/tag, #2024 is a number.\n"
        "`#notatag` and\n```\n#also-not\n```\n[link](page.md#anchor)\n"
    )
    assert parse_note(source, "n").tags == ["alpha", "beta", "gamma", "delta", "inline", "nested/tag"]


def test_wikilinks_keep_target_without_heading_or_alias_and_markdown_links_are_relative():
    source = "See [[Target note#Section|shown text]], [[Other]] and ![[image.png]].\n[doc](../docs/Guide%20one.md#part) [web](https://x.org) [here](#top)\n"
    links = parse_note(source, "n").links
    assert [(link.target, link.kind) for link in links] == [
        ("Target note", "wiki"),
        ("Other", "wiki"),
        ("image.png", "wiki"),
        ("../docs/Guide one.md", "markdown"),
    ]
    assert links[0].text == "shown text"


def test_plain_text_drops_frontmatter_and_markup_but_keeps_words():
    source = "---\ntags: [x]\nsecret: frontmatter\n---\n# Title\n\n- **Bold** item with [[Link|alias]] and [text](url.md)\n> quoted <b>html</b>\n"
    text = parse_note(source, "n").text
    assert "frontmatter" not in text and "**" not in text and "[[" not in text and "<b>" not in text
    for word in ("Title", "Bold item", "alias", "text", "quoted html"):
        assert word in text


def test_broken_yaml_is_reported_and_the_body_still_parsed():
    parsed = parse_note("---\ntags: [unclosed\n---\n# Still here\n#ok\n", "n")
    assert parsed.frontmatter_error and "not valid YAML" in parsed.frontmatter_error
    assert parsed.title == "Still here"
    assert parsed.tags == ["ok"]


def test_aliases_and_category():
    parsed = parse_note("---\naliases: My Alias, Other\ncategory: Java\n---\nx", "n")
    assert parsed.aliases == ["My Alias", "Other"]
    assert parsed.category == "Java"
