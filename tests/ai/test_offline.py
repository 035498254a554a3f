"""The offline provider on articles written for these tests, and proof that it needs no download."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gleaner.errors import PermanentError
from gleaner_ai.providers.base import ProcessingOptions
from gleaner_ai.providers.offline import (
    OfflineProvider,
    normalize_space,
    split_sentences,
)
from tests.ai.conftest import ARTICLES, article
from tests.offline import run_offline

ROOT = Path(__file__).resolve().parents[2]


class TestOfflineDigest:
    @pytest.mark.parametrize("name", ARTICLES)
    def test_summary_is_made_of_the_texts_sentences(self, name: str) -> None:
        text = article(name)
        provider = OfflineProvider(summary_sentences=4)
        chosen = provider.summarize(split_sentences(text))
        result = provider.process(text, None, ProcessingOptions())
        assert 1 <= len(chosen) <= 4
        assert result.summary == " ".join(chosen)
        flat = normalize_space(text)
        for sentence in chosen:
            assert normalize_space(sentence) in flat
        # In text order, as extractive summaries read best.
        positions = [flat.index(normalize_space(s)) for s in chosen]
        assert positions == sorted(positions)

    @pytest.mark.parametrize("name", ARTICLES)
    def test_keywords_occur_in_the_text(self, name: str) -> None:
        text = article(name)
        result = OfflineProvider(keywords_max=8).process(
            text, None, ProcessingOptions()
        )
        flat = normalize_space(text).lower()
        assert 3 <= len(result.keywords) <= 8
        for keyword in result.keywords:
            assert keyword == keyword.lower()
            assert keyword in flat
            assert len(keyword.split()) <= 2
        # No keyword is another one again, whole or in part ("wild bees" and "bees").
        for keyword in result.keywords:
            others = [k for k in result.keywords if k != keyword]
            assert not any(f" {keyword} " in f" {other} " for other in others), (
                keyword,
                others,
            )

    @pytest.mark.parametrize("name", ARTICLES)
    def test_insights_are_sentences_and_names_from_the_text(self, name: str) -> None:
        text = article(name)
        result = OfflineProvider().process(text, None, ProcessingOptions())
        flat = normalize_space(text)
        assert result.insights, "a news article has figures, quotes or names"
        for insight in result.insights:
            if insight.startswith("Named in the text: "):
                for named in insight.removeprefix("Named in the text: ").split(", "):
                    assert named in flat
            else:
                assert normalize_space(insight) in flat

    def test_a_normal_article_gets_every_part(self) -> None:
        result = OfflineProvider().process(
            article("harbour"),
            "Port of Valmora opens its first all-electric terminal",
            ProcessingOptions(),
        )
        assert result.summary
        assert len(result.summary.split()) > 30
        assert result.keywords
        assert result.insights
        assert any("412 million euros" in insight for insight in result.insights), (
            result.insights
        )
        assert any("Ines Carvalho" in insight for insight in result.insights), (
            result.insights
        )

    def test_flags_turn_parts_off(self) -> None:
        options = ProcessingOptions.from_config(
            {"generate_summary": False, "generate_keywords": False}
        )
        result = OfflineProvider().process(article("bees"), None, options)
        assert result.summary is None
        assert result.keywords == []
        assert result.insights

    def test_language_from_the_parsing_stage(self) -> None:
        text = (
            "Die Stadt Freiburg hat am Montag einen neuen Radweg eröffnet. Der Weg ist 12 Kilometer lang und "
            "verbindet die Innenstadt mit dem Flughafen. Die Bauarbeiten dauerten zwei Jahre und kosteten 8 "
            "Millionen Euro. Bürgermeisterin Anna Keller sagte, der Radweg sei ein wichtiger Schritt für den "
            "Klimaschutz. Viele Pendler nutzen den Radweg bereits jeden Tag. Anna Keller will weitere Radwege "
            "bauen lassen, wenn der Gemeinderat zustimmt."
        )
        result = OfflineProvider(summary_sentences=2).process(
            text, None, ProcessingOptions(language="de")
        )
        assert result.summary
        assert "die" not in result.keywords
        assert "der" not in result.keywords
        assert any("Anna Keller" in insight for insight in result.insights)


class TestTooShort:
    @pytest.mark.parametrize(
        "text",
        ["", "   \n ", "Short.", "Only a handful of words in this one sentence here."],
    )
    def test_fails_cleanly(self, text: str) -> None:
        with pytest.raises(PermanentError) as caught:
            OfflineProvider().process(text, "A title", ProcessingOptions())
        assert caught.value.code == "text_too_short"


_OFFLINE_SCRIPT = r"""
import json
from gleaner_ai.providers.base import ProcessingOptions
from gleaner_ai.providers.offline import OfflineProvider

text = open(sys.argv[1], encoding="utf-8").read()
result = OfflineProvider().process(text, None, ProcessingOptions())
try:
    socket.create_connection(("127.0.0.1", 9))
    guard = "not working"
except PermissionError:
    guard = "working"
print(json.dumps({"summary": result.summary, "keywords": result.keywords, "insights": result.insights, "guard": guard}))
"""


def test_runs_without_network_or_downloaded_data(tmp_path: Path) -> None:
    done = run_offline(
        _OFFLINE_SCRIPT, str(ROOT / "tests/ai/texts/compiler.txt"), home=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["guard"] == "working"
    assert result["summary"]
    assert result["keywords"]
    assert result["insights"]


FURNISHED = """Michael Russell Follow
Updated 12:30 GMT, 5 March 2024 HKT
Share on WhatsApp
The regional water board said on Tuesday that it would spend 310 million pounds on new reservoirs over the next decade, the largest programme since the 1970s.
"I'm not convinced the money will reach the villages that need it most," said Helen Marsh, who chairs the Upper Vale parish council.
The board's chief executive, David Okoro, said the first reservoir near Kettleby would hold 9 billion litres and open in 2029.
I'm told the plan was approved by the regulator last month after two years of talks.
Helen Marsh said the parish council would ask David Okoro to attend its next meeting.
Campaigners have long argued that leaks waste a quarter of the water the board treats every day.
© 2024 Vale Gazette Ltd. All rights reserved.
Read more
"""


def test_no_bylines_buttons_dates_or_copyright_in_the_digest() -> None:
    result = OfflineProvider().process(
        FURNISHED, None, ProcessingOptions(language="en")
    )
    digest = " ".join([result.summary or "", *result.keywords, *result.insights])
    for furniture in (
        "Follow",
        "GMT",
        "HKT",
        "WhatsApp",
        "©",
        "All rights reserved",
        "Read more",
    ):
        assert furniture not in digest, furniture
    named = [i for i in result.insights if i.startswith("Named in the text: ")]
    assert named
    names = named[0].removeprefix("Named in the text: ").split(", ")
    assert "Helen Marsh" in names
    assert "David Okoro" in names
    assert not any(n in ("I'm", "Michael Russell Follow", "Updated") for n in names)
    assert any(
        "9 billion litres" in i for i in result.insights
    )  # a figure the summary left
    for keyword in result.keywords:
        assert len(keyword.split()) <= 4
        assert keyword in FURNISHED.lower()
