import pytest
from trafilatura import extract_metadata, load_html

from gleaner_parsing.extractor import DEFAULT_OPTIONS
from gleaner_parsing.metadata import read_metadata
from tests.parsing import pages

URL = "https://courier.example/news/2026/03/rail-yard-park"

BYLINE_ONLY = """<!doctype html><html><head><title>Ferry timetable changes | harbour.example</title></head>
<body><nav><a href="/">Home</a></nav><article><h1>Ferry timetable changes</h1>
<p class="byline">By <span class="author">Tomás Ferreira</span>, 2 May 2025</p>
<p>The winter timetable starts on Monday, with fewer crossings after eight in the evening.</p>
</article></body></html>"""

JSON_LD = """<!doctype html><html><head><title>x</title>
<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "Library reopens after flood", "datePublished": "2024-11-05T08:00:00Z",
"author": {"@type": "Person", "name": "Ada Mensah"},
"publisher": {"@type": "Organization", "name": "Valley Post"}}</script></head>
<body><article><p>The central library reopened on Tuesday after eight months of repairs.</p></article>
</body></html>"""

PAGES = {
    "news": pages.news_article(),
    "blog": pages.blog_post(),
    "latin": pages.latin_article("iso-8859-1"),
    "byline only": BYLINE_ONLY,
    "json-ld": JSON_LD,
}


@pytest.mark.parametrize("name", sorted(PAGES))
def test_fields_equal_trafilaturas_full_metadata(name: str) -> None:
    """Our reduced reader must give what `with_metadata=True` gives for the four fields we store."""
    html = PAGES[name]
    full = extract_metadata(html, URL, date_config=dict(DEFAULT_OPTIONS.date_params))
    ours = read_metadata(load_html(html), URL, DEFAULT_OPTIONS.date_params)
    assert (ours.title, ours.author, ours.date, ours.sitename) == (
        full.title,
        full.author,
        full.date,
        full.sitename,
    )
    assert ours.title  # every page here has one: equal-but-empty would prove nothing


def test_the_tree_is_not_changed() -> None:
    tree = load_html(BYLINE_ONLY)
    assert tree is not None
    before = len(list(tree.iter()))
    read_metadata(tree, URL, DEFAULT_OPTIONS.date_params)
    assert len(list(tree.iter())) == before
