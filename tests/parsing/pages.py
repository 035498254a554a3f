"""Realistic pages the parsing tests serve: articles wrapped in the furniture real sites put around them.

Each article has sentences the tests look for (ARTICLE_MARKERS) and boilerplate they must not find in the
extracted text (BOILERPLATE_MARKERS).
"""

from __future__ import annotations

NEWS_PARAGRAPHS = [
    "The city council voted on Tuesday to turn the disused rail yard on the east bank into a public park, "
    "ending a decade of arguments over what should replace the sidings that closed in 2012.",
    "Under the plan, the twelve hectares between the river and Foundry Street will be planted with native "
    "trees and meadow grasses, and the old signal box will become a cafe run by a local cooperative.",
    "Councillor Maria Okafor, who chaired the planning committee, said the decision reflected what "
    "residents had asked for at every public meeting since the consultation began three years ago.",
    "Opponents had argued that the land should be sold to developers to pay for repairs to the harbour "
    "wall, which engineers say will need about forty million in work within the next five years.",
    "The park is expected to open in stages, with the first paths and the riverside boardwalk finished "
    "by the autumn of next year and the remaining meadows planted the following spring.",
]

NAV = """
<header class="site-header">
  <div class="logo"><a href="/">The Riverside Courier</a></div>
  <nav class="main-nav"><ul>
    <li><a href="/news">News</a></li><li><a href="/sport">Sport</a></li><li><a href="/business">Business</a></li>
    <li><a href="/opinion">Opinion</a></li><li><a href="/subscribe">Subscribe today and save 50 percent</a></li>
  </ul></nav>
  <div class="cookie-banner" id="cookie-consent">We use cookies to improve your experience. Accept all cookies
  or manage your preferences in the privacy centre.</div>
</header>
"""

ADS = """
<aside class="sidebar">
  <div class="ad ad-slot advertisement">Sponsored: Refinance your mortgage with BankCorp today, rates from 2.9 percent.</div>
  <section class="most-read"><h3>Most read</h3><ul>
    <li><a href="/a1">Celebrity chef opens burger van in car park</a></li>
    <li><a href="/a2">Ten things you never knew about your kettle</a></li>
    <li><a href="/a3">Weather warning issued for the weekend</a></li>
  </ul></section>
</aside>
"""

FOOTER = """
<footer class="site-footer">
  <p>Copyright 2026 Riverside Courier Media Group. All rights reserved.</p>
  <ul><li><a href="/terms">Terms and conditions</a></li><li><a href="/privacy">Privacy policy</a></li>
  <li><a href="/contact">Contact the newsroom</a></li></ul>
  <div class="newsletter">Sign up for our daily newsletter and never miss a story.</div>
</footer>
"""

ARTICLE_MARKERS = [
    "rail yard on the east bank",
    "Councillor Maria Okafor",
    "riverside boardwalk",
]
BOILERPLATE_MARKERS = [
    "Subscribe today",
    "We use cookies",
    "Refinance your mortgage",
    "Celebrity chef",
    "All rights reserved",
    "daily newsletter",
]


def news_article() -> str:
    paragraphs = "\n".join(f"<p>{text}</p>" for text in NEWS_PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <title>Council votes to turn rail yard into park | The Riverside Courier</title>
  <meta property="og:title" content="Council votes to turn rail yard into park">
  <meta property="og:site_name" content="The Riverside Courier">
  <meta name="author" content="Jane Whitfield">
  <meta property="article:published_time" content="2026-03-14T09:30:00Z">
  <link rel="canonical" href="/news/2026/03/rail-yard-park">
</head>
<body>
{NAV}
<main>
  <article class="story">
    <h1>Council votes to turn rail yard into park</h1>
    <div class="byline">By <span class="author">Jane Whitfield</span>, 14 March 2026</div>
    <div class="story-body">
{paragraphs}
    </div>
    <div class="share">Share this article on Facebook Share on X Email a friend</div>
  </article>
  {ADS}
</main>
{FOOTER}
</body>
</html>"""


BLOG_PARAGRAPHS = [
    "I have been baking sourdough for six years, and the single change that improved my loaves the most "
    "was not a new flour or a fancier oven but simply paying attention to the temperature of the dough.",
    "A starter that doubles in four hours in a warm kitchen can take ten hours on a cold winter morning, "
    "so following a recipe by the clock alone is the surest way to get a dense, sour brick.",
    "These days I keep a cheap probe thermometer next to the flour bin and aim for a dough temperature of "
    "about twenty five degrees after mixing, adjusting the water temperature to get there.",
    "If you take one thing from this post, let it be this: watch the dough, not the clock, and write down "
    "what you did so that next weekend's bake can be a little better than this one.",
]
BLOG_MARKERS = ["probe thermometer", "watch the dough, not the clock"]
BLOG_BOILERPLATE = ["Leave a comment", "Powered by", "Archives", "Tag cloud"]


def blog_post() -> str:
    paragraphs = "\n".join(f"<p>{text}</p>" for text in BLOG_PARAGRAPHS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Watch the dough, not the clock - Crumb and Crust</title>
<meta name="description" content="Why dough temperature matters more than the clock.">
</head>
<body>
<div id="wrapper">
<div id="masthead"><h2 class="site-title">Crumb and Crust</h2><p>A home baker's notebook</p></div>
<div id="primary" class="content-area">
  <div class="post hentry">
    <h1 class="entry-title">Watch the dough, not the clock</h1>
    <p class="post-meta">Posted on <time datetime="2025-11-02">November 2, 2025</time> by Tom Baker</p>
    <div class="entry-content">
{paragraphs}
    </div>
  </div>
  <div id="comments" class="comments-area"><h3>Leave a comment</h3>
    <div class="comment">Great post, thanks! My loaves are much better now.</div></div>
</div>
<div id="secondary" class="widget-area">
  <div class="widget"><h3>Archives</h3><ul><li>October 2025</li><li>September 2025</li></ul></div>
  <div class="widget"><h3>Tag cloud</h3><p>bread flour starter rye oven</p></div>
</div>
<div id="colophon">Powered by a static site generator. Theme by someone.</div>
</div>
</body></html>"""


# A German article served as ISO-8859-1 (header) and as windows-1252 declared only in a <meta>.
LATIN_PARAGRAPHS = [
    "Die Bürgerinnen und Bürger der Stadt haben am Sonntag über die Zukunft des alten Güterbahnhofs "
    "abgestimmt, und eine große Mehrheit sprach sich für einen öffentlichen Park mit Spielplätzen aus.",
    "Der Oberbürgermeister erklärte, die Straßenbahn werde künftig häufiger fahren, damit auch Familien "
    "aus den äußeren Stadtteilen den Park ohne Auto erreichen können.",
    "Für die Umgestaltung der Flächen sind nach ersten Schätzungen rund zwölf Millionen Euro nötig, die "
    "zum größten Teil aus Fördermitteln des Landes stammen sollen.",
]
LATIN_MARKERS = ["Güterbahnhofs", "Straßenbahn", "größten Teil"]


def latin_article(meta_charset: str | None) -> str:
    meta = f'<meta charset="{meta_charset}">' if meta_charset else ""
    paragraphs = "\n".join(f"<p>{text}</p>" for text in LATIN_PARAGRAPHS)
    return f"""<!DOCTYPE html><html lang="de"><head>{meta}<title>Park statt Güterbahnhof</title></head>
<body><nav><a href="/">Startseite</a> <a href="/lokales">Lokales</a></nav>
<article><h1>Park statt Güterbahnhof</h1>
{paragraphs}
</article><footer>Impressum · Datenschutz</footer></body></html>"""


def empty_page() -> str:
    return """<!DOCTYPE html><html><head><title>Loading</title></head>
<body><div id="app"></div><script>window.location.hash = "app";</script></body></html>"""


def huge_article(size: int) -> str:
    """A real article padded past `size` bytes with more paragraphs."""
    filler = "<p>" + " ".join(NEWS_PARAGRAPHS) + "</p>\n"
    head = news_article().split("</article>")[0]
    return head + filler * (size // len(filler) + 1) + "</article></main></body></html>"
