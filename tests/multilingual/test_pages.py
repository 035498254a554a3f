"""Twelve languages end to end without a network: page → extracted article → language → offline digest.

All twelve pages go through the parsing stage's extractor and the offline provider in one fresh
interpreter that refuses every socket and NLTK's data folder (tests/offline.py), so a segmenter or
detector that downloads its model fails here. The tests then check what a reader would: the article's
language, its sentences, keywords that are short and written in the article, and a summary and
insights made of the article's own sentences, free of buttons, bylines and copyright lines.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gleaner.language import guess
from gleaner_ai.providers.insights import NAMED_LABEL
from gleaner_ai.providers.languages import UNSPACED, fold_case, split_sentences
from tests.multilingual.articles import ARTICLES, Article
from tests.offline import run_offline

BY_LANGUAGE = {article.language: article for article in ARTICLES}

_DIGEST_ALL = r"""
import json
from gleaner_ai.providers.base import ProcessingOptions
from gleaner_ai.providers.offline import OfflineProvider
from gleaner_ai.providers.languages import split_sentences
from gleaner_parsing.extractor import extract_article
from tests.multilingual.articles import ARTICLES
from tests.multilingual.pages import render

out = {}
provider = OfflineProvider()
for source in ARTICLES:
    article = extract_article(render(source), "https://news.example/story/1")
    result = provider.process(article.text, article.title, ProcessingOptions(language=article.language))
    out[source.language] = {
        "language": article.language,
        "title": article.title,
        "text": article.text,
        "sentences": len(split_sentences(article.text, article.language)),
        "summary": result.summary,
        "keywords": result.keywords,
        "insights": result.insights,
    }
print(json.dumps(out, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def digests(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("home")
    done = run_offline(_DIGEST_ALL, home=home, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    # Nothing written to the home folder either (PyThaiNLP makes ~/pythainlp-data unless read-only):
    # a worker's filesystem is read-only.
    assert sorted(p.name for p in home.iterdir()) == ["nltk_data"]
    digested: dict[str, Any] = json.loads(done.stdout)
    return digested


def _flat(text: str) -> str:
    return " ".join(text.split())


def _spaceless(text: str) -> str:
    return "".join(text.split())


def _article_text(article: Article) -> str:
    return "\n".join([article.title, *article.paragraphs])


def test_twelve_languages_or_more() -> None:
    assert len(BY_LANGUAGE) >= 12
    assert {"zh", "ja", "ko", "th", "ar", "he", "hi", "ru", "el", "tr", "vi"} <= set(
        BY_LANGUAGE
    )


@pytest.mark.parametrize("lang", sorted(BY_LANGUAGE))
class TestExtraction:
    def test_language_comes_from_the_text(
        self, digests: dict[str, Any], lang: str
    ) -> None:
        # Pages without <html lang>, and the Turkish one that declares "en", still get theirs.
        assert (digests[lang]["language"] or "").split("-")[0] == lang

    def test_the_whole_story_and_no_furniture(
        self, digests: dict[str, Any], lang: str
    ) -> None:
        article, text = BY_LANGUAGE[lang], digests[lang]["text"]
        for paragraph in article.paragraphs:
            assert _flat(paragraph) in _flat(text)
        lines = {line.strip() for line in text.splitlines()}
        for furniture in article.furniture():
            assert furniture not in lines, furniture
            if len(furniture.split()) > 2 or len(furniture) > 12:
                assert furniture not in text, furniture

    def test_sentences_are_split_where_the_language_ends_them(
        self, digests: dict[str, Any], lang: str
    ) -> None:
        low, high = BY_LANGUAGE[lang].sentences
        assert low <= digests[lang]["sentences"] <= high


@pytest.mark.parametrize("lang", sorted(BY_LANGUAGE))
class TestDigest:
    def test_summary_is_whole_sentences_in_reading_order(
        self, digests: dict[str, Any], lang: str
    ) -> None:
        article, summary = BY_LANGUAGE[lang], digests[lang]["summary"]
        assert summary
        story = _flat(" ".join(article.paragraphs))
        chosen = split_sentences(summary, lang)
        assert 1 <= len(chosen) <= 5
        positions = [story.index(_flat(sentence)) for sentence in chosen]
        assert positions == sorted(positions)
        for furniture in [*article.furniture(), article.byline, article.dateline]:
            if (
                furniture not in story
            ):  # a nav label may be a word of the story ("राज्य", state)
                assert furniture not in summary

    def test_summary_is_in_the_articles_language(
        self, digests: dict[str, Any], lang: str
    ) -> None:
        assert guess(digests[lang]["summary"])[0] == lang

    def test_keywords_are_short_phrases_of_the_article(
        self, digests: dict[str, Any], lang: str
    ) -> None:
        article, keywords = BY_LANGUAGE[lang], digests[lang]["keywords"]
        assert 3 <= len(keywords) <= 10, keywords
        assert len(set(keywords)) == len(keywords)
        written = fold_case(_flat(_article_text(article)), lang)
        for keyword in keywords:
            if lang in UNSPACED:
                assert len(keyword) <= 20
                assert keyword in _spaceless(written), keyword
            else:
                assert len(keyword.split()) <= 4
                assert keyword in written, keyword
        ui = [
            fold_case(s, lang) for s in [*article.share, article.cookie, article.footer]
        ]
        for keyword in keywords:
            assert not any(keyword == s or keyword in s.split() for s in ui), keyword

    def test_insights_are_the_articles_sentences_and_names(
        self, digests: dict[str, Any], lang: str
    ) -> None:
        article, insights = BY_LANGUAGE[lang], digests[lang]["insights"]
        assert insights, "each story has figures or quotes"
        story = _flat(" ".join(article.paragraphs))
        labels = tuple(NAMED_LABEL.values())
        for insight in insights:
            assert article.byline not in insight
            assert article.dateline not in insight
            assert not any(s in insight for s in article.share), insight
            if insight.startswith(labels):
                for name in insight.split(": ", 1)[1].split(", "):
                    assert name in story, name
            else:
                assert _flat(insight) in story, insight


def test_detection_when_the_text_is_short_or_mixed() -> None:
    from gleaner.language import detect_language

    # Too short to be sure: the page's declaration stands.
    assert detect_language("OK", "pt-BR") == "pt-br"
    assert detect_language("Tokyo 2025", "ja") == "ja"
    # Sure and agreeing: the declared tag is kept whole.
    story = BY_LANGUAGE["ru"].paragraphs[0]
    assert detect_language(story, "ru-RU") == "ru-ru"
    # Sure and disagreeing: the text wins over a template's default.
    assert detect_language(BY_LANGUAGE["tr"].paragraphs[1], "en") == "tr"
    # Mixed: an English report quoting Chinese is English; a Chinese story naming an English firm is Chinese.
    mixed = (
        "The minister told reporters in Beijing on Monday that the talks had gone well. "
        "He repeated the government's line, “我们会继续努力”, and said a deal was close."
    )
    assert detect_language(mixed) == "en"
    assert (
        detect_language(BY_LANGUAGE["zh"].paragraphs[0] + " Apple and Microsoft")
        == "zh"
    )
    # Hebrew is "he", not CLD2's old "iw"; nothing to go on gives the declaration or None.
    assert detect_language(BY_LANGUAGE["he"].paragraphs[0]) == "he"
    assert detect_language("12 345 678", None) is None
    assert detect_language("", "de") == "de"


def test_pages_are_checked_in() -> None:
    from tests.multilingual.pages import PAGES

    assert set(PAGES) == set(BY_LANGUAGE)
    for lang, page in PAGES.items():
        assert BY_LANGUAGE[lang].paragraphs[0][:20] in page.replace("&quot;", '"')
