from datetime import date

from lxml.html import document_fromstring  # type: ignore[import-untyped]

from gleaner_parsing.extractor import (
    canonical_link,
    content_hash,
    extract_article,
    page_language,
    readability_text,
)
from tests.parsing import pages

URL = "https://courier.example/news/2026/03/rail-yard-park?utm_source=x"


class TestNewsArticle:
    def test_text_is_the_article_without_the_furniture(self) -> None:
        article = extract_article(pages.news_article(), URL)
        assert article is not None
        for marker in pages.ARTICLE_MARKERS:
            assert marker in article.text
        for marker in pages.BOILERPLATE_MARKERS:
            assert marker not in article.text

    def test_metadata(self) -> None:
        article = extract_article(pages.news_article(), URL)
        assert article is not None
        assert article.title == "Council votes to turn rail yard into park"
        assert article.author == "Jane Whitfield"
        assert article.published_date == date(2026, 3, 14)
        assert article.site_name == "The Riverside Courier"
        assert article.language == "en-gb"
        assert (
            article.canonical_url
            == "https://courier.example/news/2026/03/rail-yard-park"
        )
        assert article.word_count == len(article.text.split())
        assert article.content_hash == content_hash(article.text)


class TestOtherPages:
    def test_blog_post_without_sidebar_or_comments(self) -> None:
        article = extract_article(
            pages.blog_post(), "https://crumb.example/watch-the-dough"
        )
        assert article is not None
        assert all(marker in article.text for marker in pages.BLOG_MARKERS)
        assert not any(marker in article.text for marker in pages.BLOG_BOILERPLATE)
        assert article.title == "Watch the dough, not the clock"

    def test_non_english(self) -> None:
        article = extract_article(
            pages.latin_article(None), "https://zeitung.example/park"
        )
        assert article is not None
        assert all(marker in article.text for marker in pages.LATIN_MARKERS)
        assert article.language == "de"

    def test_plain_text_is_kept_as_is(self) -> None:
        text = "\n\n".join(pages.BLOG_PARAGRAPHS)
        article = extract_article(text, "https://crumb.example/notes.txt", "text/plain")
        assert article is not None
        assert article.text == text
        assert article.title == pages.BLOG_PARAGRAPHS[0]

    def test_page_without_text_gives_none(self) -> None:
        assert extract_article(pages.empty_page(), "https://app.example/") is None


class TestHelpers:
    def test_hash_ignores_whitespace_layout(self) -> None:
        assert content_hash("a  b\nc") == content_hash("a b c")
        assert content_hash("a b c") != content_hash("a b d")

    def test_language_from_html_lang(self) -> None:
        page = (
            '<!doctype html><html class="x" lang="pt_BR"><body><p>Olá</p></body></html>'
        )
        assert page_language(document_fromstring(page)) == "pt-br"
        assert (
            page_language(document_fromstring("<html><body><p>x</p></body></html>"))
            is None
        )

    def test_canonical_link_is_read_from_the_head_only(self) -> None:
        head = '<html><head><link rel="Canonical" href="/a?x=1"></head><body><p>x</p></body></html>'
        body = '<html><head></head><body><link rel="canonical" href="/b"><p>x</p></body></html>'
        assert canonical_link(document_fromstring(head)) == "/a?x=1"
        assert canonical_link(document_fromstring(body)) is None

    def test_readability_fallback_reads_the_article(self) -> None:
        text = readability_text(pages.news_article())
        assert pages.ARTICLE_MARKERS[1] in text
