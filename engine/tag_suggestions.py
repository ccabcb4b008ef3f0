"""The hashtags the engine suggests for one note: its related notes' tags first, else the model's tag head's,
its folder's name and its own salient words.

`VaultIndex.suggest_tags` and the evaluation (`training/heldout.py`) both call `suggest_hashtags`, so the
numbers in docs/benchmarks.md are those of what the app shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from .hashtags import tag_key
from .lexical import terms as lexical_terms
from .neighbour_tags import neighbour_tags
from .term_index import TermIndex
from .vocabulary_tags import in_band, vocabulary_tags, weight_in_note, within_share

# With 50 notes' tags hidden, the tagged validation collections keep 38-97% of their notes tagged, and there
# the fallback is worth its precision (docs/benchmarks.md); in the sample vault (22%, nearly all #recipe) it
# gave #recipe to every note.
WELL_TAGGED_SHARE = 0.3
# In a vault whose related notes carry no tags, at most this many of the model's tags lead (`engine.tag_head`);
# the note's own words fill the rest. One: on the untagged protocol the model's second and third tags were
# right less often than the note's words, and a second one flooded a collection (docs/experiments.md).
MODEL_TAGS = 1
# That tag is the first of the model's best three that the vault writes (`named_in_vault`): on the untagged protocol the
# first of three scored precision@3 0.038, the model's first alone, when the vault writes it, 0.034 (docs/experiments.md).
MODEL_TAG_DEPTH = 3
# In such a vault, at most this many of the tags a model that writes (`engine.model.NoteModel.generate_topics`)
# wrote lead, before the tag head's.
WRITTEN_TAGS = 3
# With the hashtag writer on (`engine.writer`), this many of the note's best words (`vocabulary_tags`) go to it and
# the answer takes the first of them in its order: on the untagged protocol, 12 judged words after the tag head's tag
# scored P@3 0.039 against 0.032 for the words' own order (docs/experiments.md, 2026-12-03).
JUDGED_WORDS = 12


def named_in_vault(index: TermIndex, tag: str) -> bool:
    """Whether some note of the vault holds each word of the tag (`engine.lexical` terms: #digital-garden needs
    "digital" and "garden"). The tag head knows the training corpus's tags; one that no note of this vault ever
    writes is another vault's topic (#unicloud, #iac beside the sample vault's publishing notes): on the untagged
    protocol, leaving those out lifted precision@3 from 0.032 to 0.038 (docs/experiments.md, 2026-12-06). A tag the
    vault writes only in another form (#baking beside "bake") is left out too."""
    return all(index.counts.get(term, 0) > 0 for term in lexical_terms(tag))


@dataclass
class NoteTerms:
    """What the suggestions read of one note besides its related notes' tags: its id in the vault's `TermIndex`,
    its terms (its lexical row split) and title terms, its related notes' term sets (closest first), its own
    tags, the tag lists of the notes it links with and of the other notes in its folder
    (`engine.neighbour_tags`), and its folder's name as a tag."""

    note_id: int
    terms: Sequence[str]
    title_terms: set[str]
    neighbour_terms: Sequence[set[str]]
    own_tags: list[str] = field(default_factory=list)
    linked_tag_lists: Sequence[list[str]] = ()
    folder_tag_lists: Sequence[list[str]] = ()
    folder_name_tag: str | None = None  # its folder's name as a tag, where that may be one (`engine.folder_tags`)


def suggest_hashtags(neighbour_tag_lists: Sequence[list[str]], note: NoteTerms, index: TermIndex, tagged_share: float,
                     limit: int = 3, model_tags: Callable[[], Sequence[str]] = lambda: (),
                     written_tags: Callable[[], Sequence[str]] = lambda: (),
                     rank_words: Callable[[list[str]], list[str]] | None = None) -> list[str]:
    """Up to `limit` tags. First the vault's own tags that the related notes vote for (`engine.neighbour_tags`);
    in a vault where most notes carry tags (`tagged_share`, at least `WELL_TAGGED_SHARE`), its fallback too:
    the best tag further away. Only when that finds none, the first `WRITTEN_TAGS` of `written_tags()` (what a
    model that writes wrote), the first `MODEL_TAGS` of `model_tags()` (the model's tag head, `engine.tag_head`),
    the note's folder's name (`engine.folder_tags`), then its own salient shared words (`engine.vocabulary_tags`),
    the best `JUDGED_WORDS` of them in the order `rank_words` gives when there is one (the hashtag writer's,
    `engine.writer`):
    in a vault with few tags the fallback would hand its one common tag to every note (the sample vault's
    #recipe), and in a well-tagged one those words are seldom its tags."""
    tags = neighbour_tags(neighbour_tag_lists, note.own_tags, limit, fallback=tagged_share >= WELL_TAGGED_SHARE,
                          note_terms=note.terms, linked_tag_lists=note.linked_tag_lists, folder_tag_lists=note.folder_tag_lists)
    if tags:
        return tags
    # A written tag that is a word of the vault goes only where the words' step's share rule lets it
    # (`within_share`); a tag-head tag that the words' step may give as well, only where that step's rule lets
    # it (`weight_in_note`). So no step gives a word of the vault to more than `MAX_SHARE` of the notes.
    own = {tag_key(tag) for tag in note.own_tags}
    tags = [tag for tag in written_tags() if tag_key(tag) not in own and within_share(index, tag, note.note_id)]
    tags = tags[:WRITTEN_TAGS]
    if len(tags) < limit:
        taken = own | {tag_key(tag) for tag in tags}
        tags += [tag for tag in model_tags()[:MODEL_TAG_DEPTH] if tag_key(tag) not in taken and named_in_vault(index, tag)
                 and (not in_band(index, tag) or weight_in_note(index, tag, note.note_id) is not None)][:MODEL_TAGS]
    folder = note.folder_name_tag
    if folder and tag_key(folder) not in own | {tag_key(tag) for tag in tags} and within_share(index, folder, note.note_id):
        tags.append(folder)
    tags = tags[:limit]
    words = vocabulary_tags(index, note.note_id, note.terms, note.title_terms, note.neighbour_terms,
                            list(note.own_tags) + tags, JUDGED_WORDS if rank_words else limit - len(tags))
    if rank_words and len(tags) < limit and len(words) > 1:
        words = rank_words(words)
    return tags + words[:limit - len(tags)]
