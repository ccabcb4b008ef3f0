"""Reading a note the way Obsidian does: frontmatter, title, tags, links, plain text."""

from notellm.engine.markdown import Link, WikiLink, parse_note, remove_links, replace_wikilinks


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


def test_wikilinks_in_code_stay_as_written_and_the_others_are_replaced():
    source = "[[One|first]] `[[not a link]]`\n```\n[[Nor this]]\n```\n![[Two#Part]] and [[#Local]]\n"
    seen = []

    def replace(link: WikiLink) -> str:
        seen.append(link)
        return "<link>"

    assert replace_wikilinks(source, replace) == "<link> `[[not a link]]`\n```\n[[Nor this]]\n```\n<link> and <link>\n"
    assert seen == [WikiLink("One", "", "first"), WikiLink("Two", "#Part", ""), WikiLink("", "#Local", "")]


def test_remove_links_cuts_the_chosen_note_links_whole_and_keeps_web_links():
    source = "See [[Bread|a loaf]], [the dough](Pizza%20dough.md#steps), [[Other]] and [web](https://x.org/Bread.md).\n"
    cut = remove_links(source, lambda link: link.target in {"Bread", "Pizza dough.md"})
    assert cut == "See , , [[Other]] and [web](https://x.org/Bread.md).\n"


def test_the_preview_shows_a_note_as_the_engine_reads_it():
    from notellm.app.preview import to_markdown

    source = "\ufeff---\ntitle: Shown\ntags: [x]\n---\nSee [[Other note#Part]] and `[[code]]`.\n"
    assert parse_note(source.removeprefix("\ufeff"), "n").links == [Link(target="Other note", kind="wiki")]
    assert to_markdown(source) == "See [Other note › Part](notellm:Other%20note#Part) and `[[code]]`.\n"
