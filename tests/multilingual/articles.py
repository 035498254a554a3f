"""Twelve news articles in twelve languages, written for these tests, with the furniture a site of that
language puts around them (navigation, byline, share buttons, related stories, cookie banner, footer).

The stories are invented; the furniture is what real sites show. `furniture()` lists every UI string
that must reach neither the extracted text's digest nor its keywords.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    language: str
    declared: (
        str | None
    )  # the page's <html lang>; None or a wrong tag where a real site gets it wrong
    title: str
    byline: str
    dateline: str
    paragraphs: list[str]
    nav: list[str]
    share: list[str]
    related_heading: str
    related: list[str]
    cookie: str
    footer: str
    sentences: tuple[
        int, int
    ]  # bounds on the sentences the digest's splitter finds in the article
    br_paragraphs: bool = (
        False  # paragraphs separated by <br><br> in one block, as older CMSs write
    )
    extra: dict[str, str] = field(default_factory=dict)

    def furniture(self) -> list[str]:
        return [
            *self.nav,
            *self.share,
            self.related_heading,
            *self.related,
            self.cookie,
            self.footer,
        ]


ARTICLES: list[Article] = [
    Article(
        language="zh",
        declared="zh-CN",
        title="长江沿岸城市启动跨省水质联合监测",
        byline="记者 王海涛",
        dateline="2025年4月18日 09:30",
        paragraphs=[
            "长江沿岸十一个城市周四签署协议，决定从今年七月起建立跨省水质联合监测网络。根据协议，各地将在干流和主要支流新增一百二十个自动监测站，监测数据每小时向公众公开一次。",
            "生态环境部相关负责人在签约仪式上表示，过去各省分别采样、分别发布，标准并不统一，发生污染事件时往往难以及时判断源头。联合监测网络建成后，上下游城市可以在两小时内共享预警信息。",
            "据介绍，这一项目总投资约为三十八亿元，其中中央财政承担百分之六十，其余由沿岸城市按照人口和河段长度分担。首批监测站将在宜昌、岳阳和九江三地先行建设。",
            "武汉大学环境科学系教授李明认为，数据公开是这次合作最重要的部分。他说：“只有让公众看到真实的数据，治理效果才能接受社会的检验。”",
            "部分环保组织也对协议表示欢迎，但提醒各地不要只重视设备建设，还应加强对排污企业的日常执法。按照计划，整个监测网络将在二〇二七年底前全部投入运行。",
        ],
        nav=["首页", "国内", "国际", "财经", "科技", "体育"],
        share=["分享到微信", "分享到微博", "关注我们"],
        related_heading="相关阅读",
        related=[
            "三峡库区今年首次开展生态补水",
            "多地发布夏季防汛应急预案",
            "长江禁渔三年成效初显",
        ],
        cookie="本网站使用Cookie以改善您的浏览体验，继续浏览即表示您同意我们的隐私政策。",
        footer="版权所有 © 2025 江城日报社 未经授权禁止转载",
        sentences=(10, 14),
    ),
    Article(
        language="ja",
        declared="ja",
        title="北海道の農家、ドローンで小麦の病気を早期発見",
        byline="文／佐藤健一",
        dateline="2025年6月3日 18:05",
        paragraphs=[
            "北海道十勝地方の農家グループは、小型ドローンと画像解析を使って小麦の病気を早い段階で見つける取り組みを始めた。今年は約四百ヘクタールの畑で試験的に運用している。",
            "ドローンは週に二回、決められたルートを自動で飛行し、葉の色の変化を撮影する。撮影した画像は地元の農業試験場が開発したプログラムで解析され、病気の疑いがある区画が地図上に表示される。",
            "グループの代表を務める高橋誠さんは「これまでは畑を歩いて見回るしかなく、発見が遅れることが多かった」と話す。昨年は赤かび病の発見が遅れ、収穫量が平年より二割ほど減ったという。",
            "導入にかかった費用は機体とソフトウェアを合わせて約一千二百万円で、その半分は町の補助金でまかなった。農薬を必要な区画だけに散布できるため、散布量は従来より三割少なくなる見込みだ。",
            "農業試験場の研究員は、来年以降は大豆やじゃがいもにも対象を広げたいとしている。一方で、操縦できる人材が足りないことが課題として挙げられている。",
        ],
        nav=["トップ", "社会", "経済", "政治", "地域", "スポーツ"],
        share=["シェアする", "ツイート", "フォローする"],
        related_heading="関連記事",
        related=[
            "道内の小麦、今年は豊作の見通し",
            "スマート農業の補助金、申請が過去最多",
            "十勝で新しい農業大学校が開校",
        ],
        cookie="当サイトではサービス向上のためにCookieを使用しています。詳しくはプライバシーポリシーをご覧ください。",
        footer="© 2025 北海道農業新聞社 無断転載を禁じます",
        sentences=(10, 14),
    ),
    Article(
        language="ko",
        declared=None,
        title="부산시, 노후 항만 창고를 청년 창업 공간으로 바꾼다",
        byline="김민수 기자",
        dateline="입력 2025.05.12 14:20",
        paragraphs=[
            "부산시는 북항 일대의 낡은 항만 창고 여섯 동을 청년 창업 공간으로 리모델링하는 사업을 시작한다고 12일 밝혔다. 총사업비는 약 240억 원이며 2026년 말 완공을 목표로 한다.",
            "리모델링된 창고에는 사무실과 공동 작업장, 시제품 제작실이 들어선다. 시는 입주 기업에 최대 3년 동안 임대료를 감면해 주고 전문가 상담도 지원할 계획이다.",
            '박형준 부산시장은 기자회견에서 "항만의 역사를 간직한 건물이 새로운 일자리를 만드는 공간으로 다시 태어날 것"이라고 말했다. 시는 이 사업으로 약 500개의 일자리가 생길 것으로 기대하고 있다.',
            "지역 상인들은 대체로 환영하는 분위기지만 주차 공간 부족을 걱정하는 목소리도 있다. 시는 인근 공영 주차장을 넓히고 대중교통 노선을 조정하겠다고 설명했다.",
            "부산연구원의 한 연구위원은 비슷한 사업이 다른 도시에서도 성과를 거둔 사례가 많다며 입주 기업 선정 과정을 투명하게 운영하는 것이 중요하다고 강조했다.",
        ],
        nav=["홈", "정치", "경제", "사회", "국제", "스포츠"],
        share=["공유하기", "카카오톡 공유", "구독하기"],
        related_heading="관련 기사",
        related=[
            "북항 재개발 2단계 사업 본격화",
            "부산 청년 창업 지원금 두 배로",
            "해운대 해수욕장 조기 개장",
        ],
        cookie="이 사이트는 더 나은 서비스를 위해 쿠키를 사용합니다. 계속 이용하면 쿠키 사용에 동의하는 것으로 간주됩니다.",
        footer="ⓒ 부산일보 무단전재 및 재배포 금지",
        sentences=(10, 14),
    ),
    Article(
        language="th",
        declared=None,
        title="เชียงใหม่เร่งแก้ปัญหาฝุ่นควันก่อนฤดูเผา",
        byline="โดย สมชาย ใจดี",
        dateline="อัปเดต 14 มีนาคม 2568 10:45 น.",
        paragraphs=[
            "จังหวัดเชียงใหม่ประกาศแผนรับมือฝุ่นควันฉบับใหม่ โดยจะตั้งจุดเฝ้าระวังไฟป่าเพิ่มอีก 150 จุดในพื้นที่ภูเขารอบเมือง เจ้าหน้าที่จะลาดตระเวนทุกวันตลอดช่วงฤดูแล้ง",
            "ผู้ว่าราชการจังหวัดกล่าวว่างบประมาณของโครงการนี้อยู่ที่ประมาณ 85 ล้านบาท ส่วนหนึ่งจะใช้ซื้อเครื่องวัดคุณภาพอากาศสำหรับโรงเรียนทุกแห่งในจังหวัด ผู้ปกครองจะสามารถตรวจสอบค่าฝุ่นได้ผ่านแอปพลิเคชันของจังหวัด",
            "เกษตรกรในอำเภอแม่แจ่มจะได้รับเงินสนับสนุนหากเลือกไถกลบตอซังข้าวโพดแทนการเผา ชาวบ้านหลายคนบอกว่ามาตรการนี้ช่วยได้ แต่ยังต้องการเครื่องจักรมากกว่านี้",
            "นักวิชาการจากมหาวิทยาลัยเชียงใหม่ระบุว่าฝุ่นควันส่วนหนึ่งมาจากประเทศเพื่อนบ้าน จึงต้องมีความร่วมมือระหว่างประเทศควบคู่ไปด้วย ปีที่แล้วค่าฝุ่นในตัวเมืองเกินมาตรฐานนานกว่า 60 วัน",
        ],
        nav=["หน้าแรก", "ข่าว", "การเมือง", "เศรษฐกิจ", "กีฬา", "บันเทิง"],
        share=["แชร์", "แชร์ไปยัง LINE", "ติดตามเรา"],
        related_heading="ข่าวที่เกี่ยวข้อง",
        related=[
            "ลำปางประกาศห้ามเผาในที่โล่ง",
            "ค่าฝุ่นภาคเหนือพุ่งสูงอีกครั้ง",
            "กรมอุตุฯ เตือนอากาศร้อนจัด",
        ],
        cookie="เว็บไซต์นี้ใช้คุกกี้เพื่อพัฒนาประสบการณ์การใช้งาน โปรดยอมรับเพื่อใช้งานต่อ",
        footer="สงวนลิขสิทธิ์ © 2568 หนังสือพิมพ์ข่าวเหนือ",
        sentences=(7, 20),
    ),
    Article(
        language="ar",
        declared="ar",
        title="المغرب يفتتح أكبر محطة لتحلية مياه البحر في شمال أفريقيا",
        byline="بقلم يوسف العلوي",
        dateline="نشر في 22 أبريل 2025",
        paragraphs=[
            "افتتح المغرب يوم الاثنين محطة جديدة لتحلية مياه البحر قرب مدينة الدار البيضاء، بطاقة إنتاجية تبلغ ثلاثمائة مليون متر مكعب سنويا. وتقول الحكومة إن المحطة ستزود نحو سبعة ملايين نسمة بمياه الشرب.",
            "وبلغت كلفة المشروع حوالي 1.2 مليار دولار، وتعمل المحطة جزئيا بالطاقة الشمسية وطاقة الرياح. وأوضح وزير التجهيز والماء أن الهدف هو تقليل الاعتماد على السدود التي تراجع مخزونها بسبب الجفاف.",
            'وعانت البلاد خلال السنوات الست الماضية من موجات جفاف متتالية، انخفضت معها نسبة ملء السدود إلى أقل من 30 في المئة. وقال الوزير: "لم يعد بإمكاننا انتظار المطر وحده لتأمين حاجات المدن".',
            "ويرى خبراء في شؤون المياه أن التحلية حل مكلف، وأنها يجب أن ترافقها سياسة لترشيد الاستهلاك في الزراعة. وتستهلك الزراعة أكثر من ثمانين في المئة من الموارد المائية في المغرب.",
            "ومن المنتظر أن تدخل محطتان أخريان الخدمة قبل نهاية عام 2027 في الجنوب والشرق.",
        ],
        nav=["الرئيسية", "سياسة", "اقتصاد", "رياضة", "ثقافة"],
        share=["شارك على فيسبوك", "شارك على واتساب", "تابعنا"],
        related_heading="مقالات ذات صلة",
        related=[
            "تراجع مخزون السدود إلى مستوى قياسي",
            "خطة وطنية جديدة للماء الصالح للشرب",
            "الجفاف يهدد الموسم الزراعي",
        ],
        cookie="يستخدم هذا الموقع ملفات تعريف الارتباط لتحسين تجربتك. بمواصلة التصفح فإنك توافق على ذلك.",
        footer="جميع الحقوق محفوظة © 2025 صحيفة الأفق",
        sentences=(9, 14),
    ),
    Article(
        language="he",
        declared=None,
        title="חיפה משיקה קו רכבל חדש בין הנמל לאוניברסיטה",
        byline="מאת נועה כהן",
        dateline="פורסם: 08.07.2025, 11:15",
        paragraphs=[
            "עיריית חיפה חנכה השבוע קו רכבל חדש המחבר בין אזור הנמל לקמפוס האוניברסיטה על הכרמל. אורך הקו כארבעה קילומטרים, והנסיעה כולה נמשכת כשמונה עשרה דקות.",
            "בעירייה מעריכים כי כ-12 אלף נוסעים ישתמשו ברכבל מדי יום, רובם סטודנטים ועובדים. עלות הפרויקט הגיעה לכ-400 מיליון שקלים, ונבנתה בשיתוף עם משרד התחבורה.",
            'ראש העירייה אמר בטקס הפתיחה כי "הרכבל יוריד אלפי מכוניות מהכבישים העמוסים של העיר". לדבריו, בעתיד ייבחנו שתי תחנות נוספות בשכונות המזרחיות.',
            "תושבים בשכונת נווה שאנן הביעו חשש מרעש ומפגיעה בפרטיות, שכן הקרונות עוברים מעל בתים פרטיים. בעירייה השיבו כי הוצבו מחיצות והקרונות מצוידים בזכוכית מושחרת.",
            "בשבועיים הראשונים הנסיעה תהיה ללא תשלום, ולאחר מכן יחול תעריף זהה לזה של האוטובוסים.",
        ],
        nav=["ראשי", "חדשות", "כלכלה", "ספורט", "תרבות"],
        share=["שתפו בפייסבוק", "שתפו בוואטסאפ", "עקבו אחרינו"],
        related_heading="כתבות נוספות",
        related=[
            "הכרמלית תיסגר לשיפוצים בקיץ",
            "תחבורה ציבורית בשבת: הניסוי מתרחב",
            "נמל חיפה מציג רווח שיא",
        ],
        cookie="אתר זה משתמש בעוגיות כדי לשפר את חוויית הגלישה. המשך הגלישה מהווה הסכמה לשימוש בעוגיות.",
        footer="© כל הזכויות שמורות לחדשות המפרץ 2025",
        sentences=(9, 14),
    ),
    Article(
        language="hi",
        declared="hi",
        title="राजस्थान के गांवों में सौर ऊर्जा से चलेंगे सिंचाई पंप",
        byline="लेखक: अमित शर्मा",
        dateline="अपडेटेड: 10 मार्च 2025, 08:40 IST",
        paragraphs=[
            "राजस्थान सरकार ने राज्य के पच्चीस जिलों में पचास हजार सौर सिंचाई पंप लगाने की योजना को मंजूरी दे दी है। इस योजना पर लगभग 1,800 करोड़ रुपये खर्च होंगे और किसानों को पंप की कीमत का केवल दस प्रतिशत देना होगा।",
            "ऊर्जा विभाग के अधिकारियों के अनुसार पहले चरण में उन गांवों को चुना जाएगा जहां बिजली की आपूर्ति सबसे कम है। किसानों को अब रात में बिजली आने का इंतजार नहीं करना पड़ेगा।",
            'जोधपुर जिले के किसान रामेश्वर चौधरी ने कहा, "डीजल पंप पर हर महीने हजारों रुपये खर्च होते थे, सौर पंप से यह खर्च लगभग खत्म हो जाएगा।" उनके गांव में पिछले साल बीस किसानों ने प्रयोग के तौर पर सौर पंप लगाए थे।',
            "विशेषज्ञों का मानना है कि सौर पंपों से भूजल का अधिक दोहन भी हो सकता है। इसलिए सरकार ड्रिप सिंचाई अपनाने वाले किसानों को प्राथमिकता देगी।",
            "योजना के लिए आवेदन अगले महीने से ऑनलाइन शुरू होंगे।",
        ],
        nav=["होम", "देश", "राज्य", "व्यापार", "खेल", "मनोरंजन"],
        share=["शेयर करें", "व्हाट्सऐप पर शेयर करें", "फॉलो करें"],
        related_heading="संबंधित खबरें",
        related=[
            "किसानों को मिलेगा सस्ता कर्ज",
            "मानसून से पहले नहरों की सफाई शुरू",
            "बाड़मेर में बनेगा नया सोलर पार्क",
        ],
        cookie="यह वेबसाइट आपके अनुभव को बेहतर बनाने के लिए कुकीज़ का उपयोग करती है।",
        footer="© 2025 मरुधर समाचार. सर्वाधिकार सुरक्षित.",
        sentences=(9, 14),
    ),
    Article(
        language="ru",
        declared="ru",
        title="В Казани открыли первый в регионе завод по переработке пластика",
        byline="Автор: Ирина Смирнова",
        dateline="Обновлено 15 мая 2025, 16:20",
        paragraphs=[
            "В пригороде Казани в четверг открылся завод по переработке пластиковых отходов мощностью сорок тысяч тонн в год. Предприятие будет выпускать гранулы, из которых затем делают трубы, плёнку и упаковку.",
            "Инвестиции в проект составили около 3,5 миллиарда рублей. На заводе создано 220 рабочих мест, а сырьё будут поставлять пункты раздельного сбора мусора из Казани и соседних районов.",
            "Министр экологии республики Александр Шадриков заявил, что «завод позволит сократить объём отходов, которые сегодня попадают на полигоны, почти на десять процентов». По его словам, в следующем году в республике появятся ещё двести пунктов приёма вторсырья.",
            "Экологи приветствуют запуск предприятия, но напоминают, что без привычки сортировать мусор у жителей завод не сможет работать в полную силу. Сейчас раздельно собирается лишь около пятой части бытовых отходов.",
            "Владельцы завода рассчитывают выйти на полную мощность к концу следующего года.",
        ],
        nav=["Главная", "Политика", "Экономика", "Общество", "Спорт"],
        share=["Поделиться", "Поделиться ВКонтакте", "Подписаться на канал"],
        related_heading="Читайте также",
        related=[
            "В Татарстане построят новый мусорный полигон",
            "Казань получит сто новых автобусов",
            "Цены на вторсырьё выросли вдвое",
        ],
        cookie="Мы используем файлы cookie, чтобы сайт работал лучше. Оставаясь на сайте, вы соглашаетесь с этим.",
        footer="© 2025 Вечерняя Казань. Все права защищены.",
        sentences=(9, 14),
        br_paragraphs=True,
    ),
    Article(
        language="el",
        declared="el",
        title="Η Κρήτη επενδύει στην αφαλάτωση για να σώσει τον τουρισμό",
        byline="Του Γιώργου Παπαδάκη",
        dateline="Δημοσίευση: 02.06.2025, 09:10",
        paragraphs=[
            "Η Περιφέρεια Κρήτης ανακοίνωσε την κατασκευή τεσσάρων νέων μονάδων αφαλάτωσης στα βόρεια παράλια του νησιού. Το έργο θα κοστίσει περίπου 95 εκατομμύρια ευρώ και θα χρηματοδοτηθεί κυρίως από ευρωπαϊκά κονδύλια.",
            "Τα τελευταία δύο καλοκαίρια πολλά ξενοδοχεία στο Ηράκλειο και στα Χανιά αντιμετώπισαν ελλείψεις νερού. Ο περιφερειάρχης δήλωσε ότι «χωρίς νερό δεν υπάρχει ούτε τουρισμός ούτε γεωργία».",
            "Οι μονάδες θα λειτουργούν με ενέργεια από φωτοβολταϊκά πάρκα, ώστε να μειωθεί το κόστος λειτουργίας. Κάθε μονάδα θα παράγει έως 20.000 κυβικά μέτρα νερού την ημέρα.",
            "Περιβαλλοντικές οργανώσεις ζητούν να μελετηθεί προσεκτικά η επίδραση της άλμης στη θαλάσσια ζωή. Η Περιφέρεια απαντά ότι η άλμη θα διοχετεύεται σε βαθιά νερά, μακριά από τις παραλίες.",
            "Η πρώτη μονάδα αναμένεται να λειτουργήσει πριν από το καλοκαίρι του 2026.",
        ],
        nav=["Αρχική", "Ελλάδα", "Κόσμος", "Οικονομία", "Αθλητισμός"],
        share=["Κοινοποίηση", "Κοινοποίηση στο Facebook", "Ακολουθήστε μας"],
        related_heading="Διαβάστε επίσης",
        related=[
            "Λειψυδρία: μέτρα για τα νησιά του Αιγαίου",
            "Ρεκόρ αφίξεων τουριστών στην Κρήτη",
            "Νέο φράγμα στη Δυτική Κρήτη",
        ],
        cookie="Χρησιμοποιούμε cookies για να βελτιώσουμε την εμπειρία σας. Συνεχίζοντας την περιήγηση αποδέχεστε τη χρήση τους.",
        footer="© 2025 Κρητικά Νέα. Με την επιφύλαξη παντός δικαιώματος.",
        sentences=(9, 14),
    ),
    Article(
        language="tr",
        declared="en",  # a CMS template left at its default: the text must win
        title="İzmir'de körfez temizliği için yeni arıtma tesisi devreye girdi",
        byline="Haber: Ayşe Demir",
        dateline="Güncelleme: 21.09.2025 13:35",
        paragraphs=[
            "İzmir Büyükşehir Belediyesi, körfezin kirliliğini azaltmak amacıyla Çiğli'de yeni bir atık su arıtma tesisini hizmete açtı. Tesis günde yaklaşık 200 bin metreküp atık suyu arıtabilecek kapasitede.",
            "Projenin maliyeti 1,4 milyar lira olarak açıklandı. Belediye yetkilileri, arıtılan suyun bir bölümünün tarımsal sulamada ve parkların bakımında kullanılacağını belirtti.",
            'Açılışta konuşan belediye başkanı, "Körfezde yeniden yüzebileceğimiz günler çok uzak değil" dedi. Uzmanlar ise körfeze dökülen derelerin de temizlenmesi gerektiğini hatırlatıyor.',
            "Geçen yaz körfezde yaşanan balık ölümleri kentte büyük tepki toplamıştı. Ege Üniversitesi'nden deniz bilimci Prof. Dr. Mehmet Kaya, oksijen seviyesinin düzenli olarak ölçülmesi gerektiğini söyledi.",
            "Belediye, önümüzdeki iki yıl içinde iki tesis daha kurmayı planlıyor.",
        ],
        nav=["Anasayfa", "Gündem", "Ekonomi", "Dünya", "Spor"],
        share=["Paylaş", "WhatsApp'ta paylaş", "Takip et"],
        related_heading="İlgili Haberler",
        related=[
            "Körfezde balık ölümleri sürüyor",
            "İzmir'e yeni metro hattı geliyor",
            "Çiğli'de kanalizasyon çalışması",
        ],
        cookie="Sitemizde çerezler kullanılmaktadır. Siteyi kullanmaya devam ederek çerez politikamızı kabul etmiş olursunuz.",
        footer="© 2025 Ege Postası. Tüm hakları saklıdır.",
        sentences=(9, 14),
    ),
    Article(
        language="vi",
        declared=None,
        title="Đà Nẵng thử nghiệm xe buýt điện trên tuyến ven biển",
        byline="Tác giả: Nguyễn Thu Hà",
        dateline="Cập nhật ngày 05/08/2025 07:50",
        paragraphs=[
            "Thành phố Đà Nẵng bắt đầu thử nghiệm mười xe buýt điện trên tuyến đường ven biển nối trung tâm thành phố với bán đảo Sơn Trà. Giai đoạn thử nghiệm sẽ kéo dài sáu tháng và hành khách được đi miễn phí.",
            "Theo Sở Giao thông vận tải, mỗi xe có thể chạy khoảng 250 km sau một lần sạc đầy. Tổng kinh phí cho giai đoạn đầu là khoảng 45 tỷ đồng, trong đó một phần do doanh nghiệp tư nhân đóng góp.",
            'Ông Trần Văn Minh, một người dân ở quận Sơn Trà, cho biết: "Xe chạy êm, không có khói và đúng giờ hơn xe buýt cũ." Nhiều du khách cũng chọn xe buýt điện để đi tham quan các bãi biển.',
            "Các chuyên gia giao thông cho rằng thành phố cần xây thêm trạm sạc và làn đường ưu tiên nếu muốn mở rộng mô hình này. Hiện Đà Nẵng mới có ba trạm sạc dành cho xe buýt.",
            "Nếu thử nghiệm thành công, thành phố dự kiến thay thế toàn bộ xe buýt chạy dầu trước năm 2030.",
        ],
        nav=["Trang chủ", "Thời sự", "Kinh doanh", "Thế giới", "Thể thao"],
        share=["Chia sẻ", "Chia sẻ lên Facebook", "Theo dõi chúng tôi"],
        related_heading="Tin liên quan",
        related=[
            "Hội An cấm xe máy ở phố cổ vào cuối tuần",
            "Đà Nẵng mở thêm đường bay quốc tế",
            "Giá điện tăng từ tháng sau",
        ],
        cookie="Trang web sử dụng cookie để cải thiện trải nghiệm của bạn. Tiếp tục truy cập nghĩa là bạn đồng ý.",
        footer="© 2025 Báo Miền Trung. Bản quyền thuộc về Báo Miền Trung.",
        sentences=(9, 14),
    ),
    Article(
        language="de",
        declared="de",
        title="Leipzig baut Straßenbahnnetz bis 2032 deutlich aus",
        byline="Von Katrin Wagner",
        dateline="Aktualisiert am 11.02.2025, 17:45 Uhr",
        paragraphs=[
            "Der Leipziger Stadtrat hat am Mittwoch beschlossen, das Straßenbahnnetz bis 2032 um drei neue Strecken zu erweitern. Insgesamt sollen rund 14 Kilometer Gleise neu gebaut werden, vor allem in den wachsenden Stadtteilen im Süden und Westen.",
            "Die Kosten werden auf etwa 480 Millionen Euro geschätzt. Bund und Land Sachsen wollen nach Angaben der Stadtverwaltung den größten Teil davon übernehmen.",
            'Oberbürgermeister Burkhard Jung sprach von einer "Investition in die Lebensqualität der ganzen Stadt". Die Leipziger Verkehrsbetriebe rechnen damit, dass täglich bis zu 60.000 zusätzliche Fahrgäste die neuen Linien nutzen werden.',
            "Kritik kommt von Anwohnern in Plagwitz, die während der Bauzeit Lärm und gesperrte Straßen befürchten. Die Stadt kündigte an, die Bürger frühzeitig über die einzelnen Bauabschnitte zu informieren.",
            "Der erste Spatenstich ist für das Frühjahr 2027 geplant.",
        ],
        nav=["Startseite", "Politik", "Wirtschaft", "Kultur", "Sport"],
        share=["Teilen", "Auf Facebook teilen", "Folgen Sie uns"],
        related_heading="Mehr zum Thema",
        related=[
            "Neue Radwege am Ring freigegeben",
            "LVB erhöhen die Preise ab März",
            "Hauptbahnhof wird bis 2030 saniert",
        ],
        cookie="Wir verwenden Cookies, um Ihnen das beste Nutzererlebnis zu bieten. Mit der Nutzung stimmen Sie zu.",
        footer="© 2025 Leipziger Tagespost. Alle Rechte vorbehalten.",
        sentences=(9, 14),
    ),
]
