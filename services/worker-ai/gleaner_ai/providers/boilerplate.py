"""Page furniture that survives extraction and must not reach a digest: share and follow buttons,
cookie notices, bylines, copyright lines, timestamps on their own. General rules with the words sites
use in the languages we digest; never a rule for one site.
"""

from __future__ import annotations

import re

from gleaner_ai.providers.languages import primary, text_units

UI_TERMS = frozenset(
    """share follow subscribe newsletter sign up log in cookie cookies accept read more related
    advertisement sponsored comments print email tweet whatsapp facebook telegram wechat weibo
    分享 微信 微博 朋友圈 关注 订阅 阅读更多 相关阅读 相关新闻 广告 责任编辑 打印 评论 扫一扫 二维码 原标题
    シェア フォロー 関連記事 広告 ツイート 購読 ログイン
    공유 구독 팔로우 관련기사 관련 기사 광고 댓글 카카오톡 무단전재 재배포
    แชร์ ติดตาม สมัครสมาชิก ข่าวที่เกี่ยวข้อง บทความที่เกี่ยวข้อง โฆษณา คุกกี้
    شارك تابع اشترك اقرأ أيضا اقرأ المزيد مقالات ذات صلة إعلان ملفات تعريف الارتباط
    שתפו שתף עקבו הירשמו כתבות נוספות קראו עוד פרסומת עוגיות
    शेयर फॉलो सब्सक्राइब संबंधित खबरें विज्ञापन कुकीज़
    поделиться подписаться подпишитесь читайте также реклама комментарии
    κοινοποίηση ακολουθήστε εγγραφείτε διαβάστε επίσης διαφήμιση
    paylaş takip abone ilgili haberler reklam çerez
    chia sẻ theo dõi đăng ký tin liên quan quảng cáo
    teilen folgen abonnieren werbung""".split()
)

_COPYRIGHT = re.compile(
    r"©|\(c\)\s*\d{4}|copyright|all rights reserved|版权所有|版權所有|著作権|無断転載|무단 ?전재|"
    r"جميع الحقوق|כל הזכויות|सर्वाधिकार|все права|tüm hakları|bản quyền|สงวนลิขสิทธิ์|"
    r"δικαιώματα|alle rechte",
    re.I,
)
# A line that names the writer: "By Jane Doe", "记者 王伟", "โดย ...", "Автор: ...".
_BYLINE = re.compile(
    r"^\s*(?:by|von|par|por|door|автор|текст|作者|记者|記者|文[/／]|기자|โดย|بقلم|מאת|लेखक|yazan|muhabir|"
    r"tác giả|του|της|συντάκτης)(?:\s|:|$)|^\s*[가-힣]{2,4} ?기자(?:\s|$)",
    re.I,
)
# Words a timestamp is made of, in any language we digest; a line of only these and digits is a date.
_DATE_WORDS = re.compile(
    r"(?i)\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?|"
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\b(?:am|pm|gmt|utc|hkt|bst|cet|est|edt|pst|ist|jst|kst)\b|"
    r"\b(?:updated|published|posted|last|at|on)\b|[年月日時分秒号]|"
    r"มกราคม|กุมภาพันธ์|มีนาคม|เมษายน|พฤษภาคม|มิถุนายน|กรกฎาคม|สิงหาคม|กันยายน|ตุลาคม|พฤศจิกายน|ธันวาคม|"
    r"อัปเดต|เผยแพร่|วันที่|น\.|"
    r"січ|янв|фев|мар|апр|ма[яй]|июн|июл|авг|сен|окт|ноя|дек|обновлено|опубликовано|"
    r"ocak|şubat|mart|nisan|mayıs|haziran|temmuz|ağustos|eylül|ekim|kasım|aralık|güncelleme|"
    r"tháng|ngày|năm|cập nhật|"
    r"[년월일]|업데이트|입력|수정"
)
_LETTERS = re.compile(r"[^\W\d_]+")


def is_copyright(text: str) -> bool:
    return bool(_COPYRIGHT.search(text))


def is_byline(text: str, language: str | None = None) -> bool:
    """A short line naming the writer; "By the end of the year, ..." is a sentence, not a byline."""
    limit = 20 if primary(language) in ("zh", "ja", "th") else 8
    return bool(_BYLINE.match(text)) and text_units(text, language) <= limit


def is_date_only(text: str) -> bool:
    """A timestamp on its own ("Updated 12:30 GMT, 5 March 2024"): no word left once date words go."""
    return not _LETTERS.search(_DATE_WORDS.sub(" ", text))


def has_ui_term(text: str, language: str | None = None) -> bool:
    """Whether the text holds a UI word (whole words for spaced scripts, anywhere for the rest)."""
    lowered = text.lower()
    if primary(language) in ("zh", "ja", "th", "ko"):
        return any(term in lowered for term in UI_TERMS if len(term) > 1)
    padded = f" {' '.join(_LETTERS.findall(lowered))} "
    return any(f" {term} " in padded for term in UI_TERMS)


def is_furniture(line: str, language: str | None = None, short: int = 8) -> bool:
    """A line that is page furniture rather than article: a byline, copyright, lone timestamp, or a
    short line with a UI word ("Share on WeChat", "Follow", "Read more")."""
    stripped = line.strip()
    if not stripped:
        return True
    units = text_units(stripped, language)
    unspaced = primary(language) in ("zh", "ja", "th")
    if is_copyright(stripped) and units <= (40 if unspaced else 15):
        return True  # "© 2024 Example Media. All rights reserved.", not a story about copyright law
    if is_byline(stripped, language) or is_date_only(stripped):
        return True
    if units > (short * 3 if unspaced else short) or not has_ui_term(
        stripped, language
    ):
        return False
    # "Share prices fell 5 % on Monday." is a sentence; "Michael Russell Follow" is a button.
    return units <= (12 if unspaced else 4) or not stripped.rstrip(
        "\"'”’」』)"
    ).endswith(tuple(".!?…。！？।؟"))
