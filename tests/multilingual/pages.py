"""Each test article as the page a news site would serve: the story inside its site's furniture."""

from __future__ import annotations

from html import escape

from tests.multilingual.articles import ARTICLES, Article

RTL = frozenset({"ar", "he"})


def render(article: Article) -> str:
    """A complete page: head metadata, nav, cookie banner, byline, share bar, story, related, footer."""
    lang = f' lang="{article.declared}"' if article.declared else ""
    direction = ' dir="rtl"' if article.language in RTL else ""
    nav = "".join(
        f'<li><a href="/s/{i}">{escape(n)}</a></li>' for i, n in enumerate(article.nav)
    )
    share = "".join(
        f'<li><a class="share-btn" href="#share-{i}">{escape(s)}</a></li>'
        for i, s in enumerate(article.share)
    )
    related = "".join(
        f'<li><a href="/story/{i + 100}">{escape(r)}</a></li>'
        for i, r in enumerate(article.related)
    )
    if article.br_paragraphs:
        body = (
            '<div class="story-text">'
            + "<br><br>\n".join(escape(p) for p in article.paragraphs)
            + "</div>"
        )
    else:
        body = "\n".join(f"<p>{escape(p)}</p>" for p in article.paragraphs)
    title = escape(article.title)
    return f"""<!DOCTYPE html>
<html{lang}{direction}>
<head>
<meta charset="utf-8">
<title>{title} | {escape(article.footer.split()[-1])}</title>
<meta property="og:title" content="{title}">
<meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
<div id="cookie-banner" class="cookie-consent"><p>{escape(article.cookie)}</p><button>OK</button></div>
<header class="site-header"><nav class="main-nav"><ul>{nav}</ul></nav></header>
<main>
<article class="story">
<h1>{title}</h1>
<div class="byline"><span class="author">{escape(article.byline)}</span>
<time class="published">{escape(article.dateline)}</time></div>
<ul class="share-bar">{share}</ul>
<div class="story-body">
{body}
</div>
<ul class="share-bar share-bottom">{share}</ul>
</article>
<aside class="related-stories"><h2>{escape(article.related_heading)}</h2><ul>{related}</ul></aside>
</main>
<footer class="site-footer"><ul>{nav}</ul><p>{escape(article.footer)}</p></footer>
</body>
</html>
"""


PAGES = {article.language: render(article) for article in ARTICLES}
