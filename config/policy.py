"""Policy tables operators may tune: classification words, visit frequencies, push limits.

Pure functions in services/policy/ evaluate these; nothing here reads the clock or a database.
Categories are written as their values in `models.enums` (吃, 医, 特困 …): settings sit below
the tables in the layers and import nothing of ours; tests/config check every key is a known value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta

# --- request classification (services/policy/classify.py) ---------------------------------------
# Everything is plain substrings. After changing a table, score it against the labelled corpus:
# `sanzhida classifier eval --errors` (tests/data/classifier_corpus.csv; CI holds it to its targets).

# Dialect, homophones and common typos rewritten to plain Mandarin first, in this order.
SPELLINGS: tuple[tuple[str, str], ...] = (
    ("冇得", "没有"), ("没得", "没有"), ("冇", "没"),
    ("恰好", "刚好"), ("恰巧", "刚好"), ("恰当", "合适"), ("恰恰", "正好"), ("恰", "吃"),
    ("掼", "摔"), ("跌倒", "摔倒"), ("跌到", "摔到"), ("跌在", "摔在"), ("跌地上", "摔地上"),
    ("跌了一跤", "摔了一跤"), ("跌了个跤", "摔了个跤"), ("跌跤", "摔跤"), ("跌下来", "摔下来"),
    ("晕到", "晕倒"), ("昏到", "昏倒"), ("她", "他"), ("它", "他"),
    ("哪里克", "哪里去"), ("哪克", "哪去"), ("不晓得", "不知道"), ("晓得", "知道"), ("一哈", "一下"),
    ("么事", "什么事"), ("么时候", "什么时候"),
    ("底保", "低保"), ("低包", "低保"), ("低宝", "低保"), ("残积证", "残疾证"), ("残急证", "残疾证"),
    ("降牙药", "降压药"), ("补帖", "补贴"), ("医宝", "医保"), ("喘不赢", "喘不上"), ("透不赢", "透不过"),
)

# Signs that a life or health may be at risk now: (category, numbers to advise as "120|110", phrases).
# A current sign makes a request urgent, files it under the category of its first sign and advises
# the numbers of every current sign. "{人}" in a phrase stands for each word of PEOPLE; "A…B" is A, then B
# a few characters later in the same clause, B not denied ("怎么叫都不醒", "胸口像压了块石头").
URGENT_SIGNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # falls: down and cannot get up, or hurt
    ("医", "120", (
        "摔倒", "摔了", "摔到", "摔地上", "摔在地上", "摔下来", "摔破", "摔断", "滑倒", "绊倒", "栽倒", "栽下去", "跟头",
        "跟斗", "歪倒", "瘫倒", "瘫在地上", "软下去", "起不来", "爬不起来", "站不起来", "站不住", "扶不起来", "动不了",
        "不能动", "不敢动", "倒在", "倒地", "倒下", "就倒了", "突然倒", "躺在地上", "躺地上", "地上躺", "滚下来",
        "床上掉下来", "梯子上掉下来", "树上掉下来", "楼上掉下来",
    )),
    # someone trapped under a fallen roof or wall: rescue and ambulance
    ("医", "119|120", ("压在下面", "压在底下", "压在里面", "埋在下面")),
    # no longer responding, confused, fits
    ("医", "120", (
        "晕倒", "晕过去", "晕了过去", "人晕了", "{人}晕了", "晒晕", "呛晕", "昏迷", "昏过去", "昏倒", "不省人事",
        "叫不醒", "喊不醒", "叫不应", "喊不应", "喊了不答应", "叫了不答应", "喊不答应", "叫不答应", "喊{人}不答应",
        "叫{人}不答应", "叫…不醒", "喊…不醒", "叫…不应", "喊…不应", "叫…不太应", "喊…不太应", "叫…没反应",
        "喊…没反应", "叫…没有反应", "喊…没有反应", "敲门…不应", "拍门…不应", "{人}没有反应", "{人}没反应",
        "人都没反应", "一动不动", "不睁眼", "眼睛也不睁", "眼前一黑", "没知觉", "没有知觉", "没意识", "没有意识",
        "神志不清", "意识不清", "不清醒", "昏昏沉沉", "迷迷糊糊", "人有点迷糊", "人迷糊", "说胡话", "胡言乱语",
        "不认得人", "不认人", "不认识人", "不认识我", "不认得我", "认不出人", "抽搐", "口吐白沫", "一直抽", "抽风",
        "抽起来", "手脚抽", "牙关", "翻白眼", "快不行了", "人不行了", "怕是不行了", "又不行了", "低血糖", "虚脱", "脱水",
    )),
    # breathing
    ("医", "120", (
        "喘不上气", "喘不过气", "喘不上来", "喘不过来", "透不过气", "上不来气", "出不来气", "气上不来", "呼吸困难",
        "呼吸急", "呼吸…急", "呼吸…困难", "呼吸…不过来", "喘得厉害", "喘得很", "喘得不行", "没有呼吸", "{人}没气了",
        "{人}没有气了", "人都没气", "发紫", "都紫了", "嘴唇…紫", "嘴唇…乌", "嘴巴…乌", "脸…乌", "憋得", "憋红",
        "憋紫", "憋得慌", "噎住", "喉咙卡", "卡在喉咙", "呛住", "哮喘犯", "哮喘发作", "呼吸机…停", "呼吸机…用不了",
        "呼吸机…坏", "制氧机…停", "制氧机…用不了",
    )),
    # heart and chest
    ("医", "120", (
        "胸口疼", "胸口痛", "胸口闷", "胸闷", "胸口不舒服", "胸口…压", "胸口…闷", "胸口…疼", "胸口…痛", "心口疼",
        "心口痛", "心口不舒服", "心口…疼", "心口…痛", "心绞痛", "心脏病犯", "心脏病发", "心梗", "心跳…快",
        "心跳…厉害", "心慌…厉害", "出冷汗", "冷汗", "冒虚汗", "虚汗直冒",
    )),
    # stroke: face, speech, one side, sight, sudden headache
    ("医", "120", (
        "中风", "脑梗", "脑溢血", "脑出血", "嘴巴歪", "嘴歪", "口歪", "嘴…歪", "脸…歪", "口眼歪斜", "口水直流",
        "说不出话", "说不了话", "说不出来话", "不会说话了", "话都说不出", "讲不出话", "说不清", "说话不清",
        "说话都不清", "口齿不清", "说话含糊", "说话…含糊", "含含糊糊", "含糊不清", "舌头发硬", "大舌头",
        "半边身子", "半边身", "半边脸", "半边手", "半边腿", "半边脚", "一边手", "一边脚", "一边身子", "突然…抬不起",
        "一只手…抬不", "一只手…没劲", "一条腿…没劲", "突然看不见", "重影", "两个影子", "头疼得要炸", "头痛得要炸",
        "头疼欲裂",
    )),
    # bleeding and injuries
    ("医", "120", (
        "流血", "好多血", "大出血", "出血不止", "出好多血", "血止不住", "止不住血", "吐血", "呕血", "咳血", "吐…血",
        "咳…血", "拉血", "便血", "头破了", "头破", "骨折", "腿断", "好像断了", "腿…断了", "手…断了", "骨头断",
        "骨头…露", "伤得很重", "伤得好重", "重伤", "被车撞", "车撞了", "撞车", "车祸", "翻车", "车压了", "被车压",
        "被…压伤", "被…压住了", "压断", "被牛顶", "被牛踩", "被…砸伤", "被…砸到", "被…砸中", "砸到头", "砸伤",
    )),
    # poison, fumes, food
    ("医", "120", (
        "喝了农药", "喝农药", "吃了农药", "敌敌畏", "百草枯", "吃了老鼠药", "中毒", "吃错药", "吃多了药", "吃了一把",
        "吃了…安眠药", "吃了半瓶", "吃了一瓶", "吃了好多药", "熏得…疼", "熏得…晕", "熏得…吐", "炭火…吐", "炭火…晕",
        "烤火…想吐", "烤火…头晕", "又吐又拉", "上吐下泻", "吃了…蘑菇", "毒蘑菇",
    )),
    # water, heat, burns, bites and stings, blood pressure, and anyone calling for an ambulance
    ("医", "120", (
        "掉到塘", "掉进塘", "掉到河", "掉进河", "掉水里", "掉塘里", "掉河里", "掉进水里", "塘…掉下去", "河…掉下去",
        "水…掉下去", "溺水", "中暑", "热晕", "热倒", "晒倒", "烫伤", "烧伤", "烫…一大片", "烫…好多泡", "被蛇咬",
        "蛇咬了", "被马蜂", "马蜂蛰", "马蜂蜇", "马蜂叮", "被胡蜂", "打滚", "血压二百", "血压两百", "血压200",
        "高压200", "血压…一百八", "血压…一百九", "血压…二百", "血压…两百", "血压…180", "血压…190", "血压…200",
        "血压…210", "血压…220", "打120", "叫救护车", "喊救护车",
    )),
    # urgent, no ambulance to call yet: heat, despair, not eating or drinking
    ("医", "", ("热得头晕", "热得…晕", "热得…昏")),
    ("医", "", (
        "想不开", "不吃不喝", "不想活", "活着没意思", "活着没有意思", "我想死", "寻死", "自杀", "寻短见", "跳河",
        "跳塘", "上吊",
    )),
    # fire and gas
    ("住", "119", (
        "着火", "失火", "火灾", "起火", "烧起来", "烧着了", "烧到屋", "快烧到", "火烧", "冒烟", "冒…烟", "冒火花",
        "冒火", "全是烟", "都是烟", "浓烟", "把…点着了", "着起来了", "火势", "煤气罐漏气", "罐漏气", "煤气漏",
        "漏煤气", "液化气漏", "煤气味", "燃气味",
    )),
    ("住", "", ("有火花", "打火花", "电线…火花")),
    # floods and landslides
    ("住", "", (
        "淹到屋", "水淹到", "水还在涨", "水…涨", "涨水", "发大水", "山洪", "土往下滑", "石头往下滑", "山…往下滑",
        "坡…往下滑", "滑坡", "泥石流", "山体…滑",
    )),
    # a snake in the house: the fire brigade catches them
    ("其他", "119", ("来了条蛇", "屋里有蛇", "家里有蛇", "床上有蛇", "屋里有条蛇", "家里有条蛇", "蛇进屋", "蛇爬进")),
    # a roof or a house coming down
    ("住", "", ("屋塌", "房塌", "房子塌", "屋顶塌", "顶塌", "压塌", "压垮", "怕塌", "要塌了", "快塌了", "塌下来了")),
    # a missing person
    ("其他", "110", (
        "走失", "走丢", "{人}不见了", "人找不到", "找不到人", "{人}找不到了", "走哪去了", "跑哪去了", "晚没回来",
        "晚上没回来", "夜没回来", "天没回来", "天了还没回来", "到现在没回来", "到现在还没回来", "现在还没回来",
        "出去…没回来", "出门…没回来", "到现在…没看到", "到现在…没见", "人都没看到", "人影都没", "转眼就不见",
        "放学…没回", "没回来…天都黑", "没回…天黑", "天黑了还没回", "天黑…没回",
    )),
    # violence and intruders
    ("其他", "110", (
        "打我", "打人", "被人打", "要打人", "打起来了", "动手打", "打架", "拿刀", "动刀", "砍人", "乱砸", "砸门",
        "偷东西", "进屋偷", "有小偷", "进了贼", "有贼", "抢劫", "家暴",
    )),
    # no food at all
    ("吃", "", (
        "没饭吃", "没有饭吃", "断粮", "没东西吃", "没有东西吃", "什么都没有吃", "什么都没吃", "饿了一天", "饿了两天",
        "饿了几天", "饿了好几天", "一天没吃", "两天没吃", "三天没吃", "几天没吃",
    )),
    # nobody answers an old person living alone
    ("联系亲人", "", ("天都没人接", "天没人接", "上午没人接", "下午没人接", "晚上没人接", "一直没人接", "一直关机")),
    ("其他", "", ("敲门没人应", "没人应", "好几天没出门", "几天没看到{人}", "几天没见到{人}")),
    ("其他", "", ("出事了", "出大事")),
)
# Urgent only in WINTER_MONTHS, when a cut supply or the cold endangers the elderly.
WINTER_URGENT_SIGNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("住", "", (
        "停电", "停水", "屋里没电", "家里没电", "没水用", "没有水用", "冻裂", "没暖气", "暖气坏", "没有取暖",
        "取暖器坏", "取暖的坏", "炉子坏", "炉子…不燃", "炉子…烧不着", "没有烤火", "没火烤", "没有火烤", "冻爆", "水管冻坏", "一滴水都没", "没有水了", "没水了",
    )),
    ("穿", "", (
        "冻得发抖", "冷得发抖", "冻得直哆嗦", "冷得直哆嗦", "冻得受不了", "冷得受不了", "冻僵", "冻得不行", "冷得要命",
        "冻得要命", "冷得不行", "发抖",
    )),
)
WINTER_MONTHS = frozenset({11, 12, 1, 2, 3})
# Cries for help that say nothing of what happened: urgent; their numbers only when no other sign says more.
GENERIC_URGENT_SIGNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (("其他", "120|110", ("救命", "救救", "救人", "快来人")),)
# Signs that count only as a whole clause, as shouted in a voice message ("烟好大 着了").
WHOLE_CLAUSE_SIGNS: tuple[tuple[str, str, tuple[str, ...]], ...] = (("住", "119", ("着了", "着火了")),)
PEOPLE = (
    "人", "他", "老人", "爸", "妈", "爹", "娘", "爷", "奶", "婆", "公", "伢", "娃", "孩子", "儿子", "女儿", "孙子",
    "孙女", "老头子", "老头", "老伴", "老太", "老爷子",
)

# Look-alikes: phrases containing a sign or a marker that mean something else; what is inside one never counts.
LOOK_ALIKES = (
    "打不着火", "点不着火", "打不着", "点不着", "打着火", "点着火", "着火点", "防火", "烟囱冒烟",
    "摔了个碗", "摔了一个碗", "摔了碗", "摔了个盘子", "摔了个杯子", "摔碎", "摔坏", "摔烂", "摔门", "摔东西",
    "摔手机", "摔了手机", "倒在碗", "倒在锅", "倒在杯", "牙龈出血", "刷牙出血", "刷牙就出血",
    "压得喘不过气", "压得人喘不过气", "压得我喘不过气", "挤得喘不过气", "累得喘不过气", "忙得喘不过气", "烟囱冒", "罐没有气", "罐子没有气", "罐没气", "胎没有气", "胎没气",
    "球没气", "搞晕了", "绕晕了", "看晕了", "听晕了", "转晕了", "中风后", "机没有反应", "机没反应", "视没有反应",
    "视没反应", "器没有反应", "器没反应", "按了没反应", "按了没有反应", "一直抽烟",
    "防走失", "狗走丢", "猫走丢", "牛走丢", "羊走丢", "鸡走丢", "狗走失", "找不到人帮", "找不到人来", "找不到人修",
    "找不到人照顾", "找不到人陪", "找不到人干", "找不到人做", "找不到人收", "找不到人说", "救命钱", "救命之恩",
    "打我电话", "打我手机", "打我的电话", "拿刀切",
    "怕是", "恐怕", "害怕", "可怕", "哪怕", "小时以前", "分钟以前", "会儿以前", "小时之前", "分钟之前",
    "修好了", "弄好了", "做好了", "办好了", "搞好了", "准备好了", "说好了", "讲好了", "好了没", "好了吗",
    "好了一点", "好了点", "灯灭了", "没事吧", "没有事吧", "有没有事", "没事做", "没事干", "没有事做", "没有事干",
    "严不严重", "吵醒了", "想死你", "吓得发抖", "气得发抖", "手发抖", "气得冒火", "心里冒火", "菜冻坏",
    "吓出一身冷汗", "吓得冷汗", "凳子腿", "桌子腿", "椅子腿", "床腿", "手机", "锅里冒", "火烧云",
    # a stove or a fire lit on purpose
    "炉子烧起来", "炉子燃起来", "炉子着起来", "炉子点着", "灶点着", "炭点着", "柴点着", "火点着", "蜡烛点着",
    "灶里的火烧起来", "炭烧起来",
)
# A sign right after one of these is denied ("没有摔倒", "不是着火"); "是不是摔了" stays urgent.
NEGATIONS = ("没有", "没", "不是", "并没", "未")
NOT_NEGATIONS = ("是不是",)
# In the same clause as a sign, before or after it: the sign is over ("上个月摔了一跤", "中风好几年了").
PAST_MARKERS = (
    "上个月", "上月", "上个星期", "上星期", "上周", "上礼拜", "上个礼拜", "去年", "前年", "以前", "从前", "上次",
    "上回", "那年", "那次", "那回", "几年前", "好几年", "几年了", "多年", "好多年", "小时候", "年轻时", "早年",
    "当年", "前几年", "前些年", "上半年", "前几天", "几个月前", "后遗症", "曾经",
)
# Before a sign in the same clause: it has not happened or is not real ("怕老人摔倒", "万一着火", "以为着火了").
HYPOTHETICAL_MARKERS = (
    "万一", "如果", "要是", "假如", "容易", "防止", "以防", "预防", "避免", "免得", "以免", "小心", "差点", "差一点",
    "险些", "明天", "后天", "下个月", "下周", "下星期", "过几天", "将来", "以为", "电视里", "电视上", "电视剧",
    "新闻里", "梦见", "梦到", "做梦",
)
# Like HYPOTHETICAL_MARKERS unless the sign is followed by 了: "怕他摔倒了" fears it has happened.
WORRY_MARKERS = ("怕", "担心", "生怕")
# After a sign in the same sentence: it is over ("摔了一跤 现在好了", "火已经灭了"); "叫不醒了" is no 醒了.
RESOLVED_MARKERS = (
    "好了", "好多了", "好些了", "没事", "没有事", "没什么事", "没啥事", "不要紧", "不碍事", "没大碍", "不严重",
    "不疼了", "醒了", "醒过来了", "缓过来了", "救过来了", "火灭了", "已经灭了", "扑灭了", "灭掉了", "浇灭了",
    "找到了", "找回来了", "回来了", "出院了", "来电了", "来水了", "止住了", "没有什么事", "没么事",
    "已经在医院", "已经送医院", "已经送到医院", "送医院了", "送到医院了", "打了石膏", "还好没", "幸好没",
    "好在没", "没伤到", "没伤着",
)
# Where a clause starts when a voice transcript has no punctuation.
CLAUSE_STARTERS = (
    "现在", "刚才", "刚刚", "今天", "今早", "今晚", "昨天", "昨晚", "但是", "可是", "不过", "结果", "后来", "然后",
    "这回", "这次", "一直", "另外", "还有",
)

# Category, when no urgent sign decides it. Words are read longest first, so 医保 counts for 政策, not 医.
# A decisive word settles it, the first row with one winning: medicine is always 医, "帮我买" is 帮购 …
CATEGORY_DECISIVE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("医", ("药", "胰岛素", "试纸", "救心丸")),
    ("政策", (
        "低保", "补贴", "补助", "救助", "申请", "报销", "医保", "新农合", "合作医疗", "养老金", "养老保险", "社保",
        "残疾证", "证明", "手续", "材料", "户口", "身份证", "敬老院", "养老院", "福利院", "特困", "五保", "供养",
        "慢病卡", "慢性病卡", "丧葬费", "年审", "政策", "危房改造", "高龄", "生活费", "医药费", "药费", "减免", "认证",
        "廉租房", "公租房", "学费", "助学", "津贴", "慰问",
        "能不能减",
    )),
    ("帮购", (
        "帮我买", "帮忙买", "帮买", "想买", "要买", "买个", "买点", "买些", "买两", "买一", "买袋", "买包", "买张",
        "买双", "买几", "买瓶", "买盒", "买箱", "买斤", "代购", "代买", "捎", "帮我带", "帮忙带", "顺便带", "帮我称", "帮忙称", "称两斤", "称几斤", "带点",
        "带些", "带一", "带两", "带几", "带盒", "带箱", "带包", "带袋", "带瓶", "充话费", "充个话费", "换一罐", "换罐",
    )),
    ("联系亲人", (
        "联系不上", "联系不到", "打不通", "没人接", "关机", "打个电话", "打电话", "回个电话", "回电话", "视频",
        "带个话", "帮我带个话", "帮忙带个话", "捎个话", "捎话", "跟他说", "告诉他", "说一声", "叫他回来", "回来一趟", "想儿子", "想女儿",
        "想孙子", "想孙女", "想家", "来看我", "来看看我", "电话号码", "的电话", "说一下",
    )),
    ("住", ("扶手", "防滑", "灭火器", "报警器", "漏雨", "危房", "装个")),
    ("其他", ("投诉",)),
)
# Otherwise the category with most keyword hits wins, ties to the earliest hit; words after 不是 do not count.
# Keys are RequestCategory values.
CATEGORY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("医", (
        "医", "医院", "医生", "村医", "卫生院", "诊所", "看病", "病", "疼", "痛", "住院", "出院", "发烧", "血压", "血糖",
        "血", "咳", "感冒", "不舒服", "晕", "昏", "摔", "跤", "伤口", "受伤", "打针", "复查", "体检", "检查", "拍片",
        "化验", "眼睛", "眼花", "眼泪", "耳朵", "牙", "腿", "腰", "膝盖", "脚", "手抖", "肿", "痒", "疹子", "拉肚子",
        "便秘", "睡不着", "失眠", "糊涂", "痴呆", "忘事", "发炎", "口子", "擦破", "胃口", "不想吃", "吃不下", "助听器",
        "眼镜", "拐杖", "走路", "疫苗", "狂犬", "康复", "手术", "护士", "哮喘", "喘", "中风", "癌", "糖尿病", "心脏", "冻疮", "上火",
        "肝火", "嗓子", "鼻血", "麻了", "发麻", "烫", "撞",
    )),
    ("吃", (
        "吃", "饭", "米", "油", "粮", "饿", "菜", "食堂", "喝", "牛奶", "鸡蛋", "肉", "水果", "面条", "面粉", "挂面",
        "稀饭", "没饭吃", "做饭", "早饭", "午饭", "晚饭", "送饭", "剩饭", "馒头", "糖", "火腿肠",
    )),
    ("穿", (
        "衣", "穿", "被子", "棉被", "被褥", "棉", "鞋", "袜", "裤", "校服", "电热毯", "毛衣", "羽绒服", "帽子", "手套", "外套", "大衣",
        "冷", "冻", "盖的",
    )),
    ("住", (
        "房", "屋顶", "漏", "墙", "门", "窗", "瓦", "停电", "停水", "停了电", "停了水", "没电", "来电", "电灯", "灯", "电线", "电闸",
        "跳闸", "插座", "水管", "自来水", "水龙头", "进水", "着火", "起火", "烟囱", "厕所", "化粪池", "老鼠", "灶",
        "煤气灶", "热水器", "电饭煲", "电饭锅", "冰箱", "制冷", "电扇", "风扇", "空调", "取暖器", "炉子", "烤火", "床", "塌",
        "霉", "锁", "钥匙", "路坏了", "修路", "路灯", "坡", "冻住", "冻裂", "井", "抽水", "水泵", "打不着火", "打不着", "点不着", "修",
    )),
    ("帮购", (
        "买", "帮购", "日用品", "卫生纸", "纸巾", "洗衣粉", "肥皂", "洗洁精", "牙膏", "电池", "蚊香", "老鼠药",
        "农药", "化肥", "年货", "话费", "电费", "水费", "煤气罐", "液化气", "打火机", "火柴", "街上", "超市", "小卖部",
    )),
    ("联系亲人", (
        "儿子", "女儿", "孙子", "孙女", "侄儿", "侄子", "外孙", "女婿", "儿媳", "媳妇", "亲人", "家人", "打工", "外地",
    )),
    ("政策", ("钱", "手环", "政府", "村委会", "民政")),
    ("其他", (
        "你好", "在吗", "谢谢", "协理员", "协理员的电话", "协理员电话", "狗", "猫", "鸡", "牛", "偷", "骗", "转钱",
        "有人打电话", "电视", "信号", "邻居", "微信", "拜年", "投诉", "走访", "公众号", "垃圾", "火车站", "晒太阳",
        "吵", "发火", "摔门", "手机", "存折", "找到了", "出事", "收谷", "撬", "孤单",
    )),
)
# Read as one word and counted for no category: 屋里 means "at home", 低保户 is who, not what is asked.
CATEGORY_NEUTRAL_WORDS = (
    "屋里", "家里", "屋头", "在屋", "出门", "出不了门", "上门", "门口", "部门", "起床", "麻烦", "外面", "里面",
    "后面", "前面", "上面", "一床", "低保户", "五保户", "特困户", "爬坡", "东西", "喝酒", "喝醉", "喝了酒",
)

# 四查四帮 visit frequency in days per beneficiary category; the strictest category wins.
# Keys are BeneficiaryCategory values.
VISIT_FREQUENCY_DAYS: dict[str, int] = {
    "特困": 7,
    "留守老人": 7,
    "留守儿童": 14,
    "残疾人": 14,
    "孤儿/困境儿童": 14,
    "低保": 30,
    "其他": 30,
}
# The service map colours a village or town amber when fewer than this share of its people were
# visited within their plan (the same coverage as the 走访覆盖 page: the share not overdue).
MAP_COVERAGE_TARGET = 0.9

# WeChat's customer-service window: messages allowed after a user's last message.
CUSTOM_WINDOW_HOURS = 48
CUSTOM_WINDOW_MAX_MESSAGES = 5
# Template message fields: at most 20 characters since 2023-05-04.
TEMPLATE_FIELD_MAX = 20


@dataclass(frozen=True)
class TemplateField:
    """One keyword of a template: its key, what it means to the reader, and WeChat's value type.

    The key starts with the type, as the WeChat console names keywords (thing2 is a thing). The
    value rules of each type are WeChat's (services/policy/push.py checks them).
    """

    key: str
    label: str
    type: str


@dataclass(frozen=True)
class TemplateSpec:
    """A template chosen in the WeChat console: its title and its keywords, in order."""

    title: str
    fields: tuple[TemplateField, ...]


# The templates we send, by kind (their ids are settings: WECHAT_TEMPLATE_TASK, WECHAT_TEMPLATE_PROGRESS).
TEMPLATES: dict[str, TemplateSpec] = {
    # Tasks, alerts, reminders and digests to staff. A push about a list says what the list is and
    # links to the whole of it (the mobile list page); its 编号 is the list's reference.
    "task": TemplateSpec("待办任务提醒", (
        TemplateField("character_string1", "编号", "character_string"),
        TemplateField("thing2", "对象", "thing"),
        TemplateField("thing3", "事项", "thing"),
        TemplateField("phrase4", "紧急程度", "phrase"),
        TemplateField("time5", "时间", "time"),
    )),
    # Progress notices to requesters and families.
    "progress": TemplateSpec("办理进度通知", (
        TemplateField("character_string1", "编号", "character_string"),
        TemplateField("thing2", "进展", "thing"),
        TemplateField("thing3", "负责人", "thing"),
        TemplateField("time4", "时间", "time"),
    )),
}

# The mobile list page a summary push links to (/m/list/<token>): how long its link works, and
# how many items one link names (a longer list says how many more are on the dashboard).
MOBILE_LIST_DAYS = 7
MOBILE_LIST_MAX_ITEMS = 200

# Outbox retries: exponential backoff with full jitter, then a dead letter.
OUTBOX_BACKOFF_BASE_SECONDS = 5
OUTBOX_BACKOFF_CAP_SECONDS = 30 * 60
OUTBOX_MAX_ATTEMPTS = 8
# How long a dispatcher holds a claimed row before another may take it over.
OUTBOX_CLAIM_SECONDS = 60
# SMS per phone within (seconds, messages), as Aliyun's default flow control; one over it waits.
SMS_PHONE_LIMITS = ((60, 1), (3600, 5), (86400, 10))

# --- media: voice, photos and video from beneficiaries and families --------------------------------
# Fetching from WeChat (media/get): backoff like the outbox's, then a dead letter (`sanzhida media
# list --failed`). WeChat keeps temporary media 3 days, so the last try falls well inside them.
MEDIA_BACKOFF_BASE_SECONDS = 10
MEDIA_BACKOFF_CAP_SECONDS = 30 * 60
MEDIA_MAX_ATTEMPTS = 8
MEDIA_CLAIM_SECONDS = 120
# WeChat deletes temporary media this long after upload; our own uploads (to send a voice or photo
# on to staff) are renewed a little before.
WECHAT_MEDIA_TTL = timedelta(days=3)
WECHAT_MEDIA_RENEW_BEFORE = timedelta(hours=6)
# Speech recognition is retried this often while the recogniser is down, for this long; after
# that the voice stays "failed" and staff listen to it.
TRANSCRIPT_RETRY_SECONDS = 60
TRANSCRIPT_MAX_ATTEMPTS = 60 * 24
# A voice request nobody has understood yet (no WeChat recognition, recogniser off, failing or
# hearing nothing) may be someone who fell and cannot type: it follows this urgency's ladder until
# a member of staff accepts it, or a transcript is classified.
UNHEARD_VOICE_URGENCY = "urgent"


# --- escalation ladder ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LadderStep:
    """One rung: if `condition` still holds `after` the request was raised, go to `level`.

    condition: "not_accepted" (still open), "not_resolved" (open or acknowledged) or
    "accepted_not_resolved" (acknowledged, not yet resolved).
    clock: "wall" counts every minute; "service" counts only service hours.
    notify: whom the rung alerts, ONE person per role, by their place in the 包联 chain:
      "assignee" (a reminder to whoever has the case);
      "responsible_officer", "deputy_officer" (the town officers answering for the village);
      "liaison", "deputy_liaison" (the city liaisons of the department that handles the request's
      category, CATEGORY_DEPARTMENT; for an urgent request outside office hours, the person on duty);
      "on_duty" (outside office hours the rota's person on duty; in office hours the liaison).
    A role with nobody in it walks up the chain (services/responsibility.py) and logs a warning.
    repeat_every: the rung is taken again this often while its condition holds (None: once).
    tell_requester: whether the requester is told the case was pressed (not on repeats).
    """

    level: int
    condition: str
    after: timedelta
    clock: str
    notify: tuple[str, ...]
    repeat_every: timedelta | None = None
    tell_requester: bool = True


# An urgent case nobody accepts: after the liaison, the person on duty is reminded this often.
URGENT_REPEAT_MINUTES = 10

ESCALATION_LADDER: dict[str, tuple[LadderStep, ...]] = {
    "urgent": (
        LadderStep(1, "not_accepted", timedelta(minutes=15), "wall", ("responsible_officer", "assignee")),
        LadderStep(2, "not_accepted", timedelta(minutes=30), "wall", ("deputy_officer",), tell_requester=False),
        LadderStep(3, "not_accepted", timedelta(minutes=45), "wall", ("liaison",)),
        LadderStep(4, "not_accepted", timedelta(minutes=45 + URGENT_REPEAT_MINUTES), "wall", ("on_duty",),
                   repeat_every=timedelta(minutes=URGENT_REPEAT_MINUTES), tell_requester=False),
        LadderStep(5, "accepted_not_resolved", timedelta(hours=4), "wall", ("responsible_officer",)),
        LadderStep(6, "accepted_not_resolved", timedelta(hours=12), "wall", ("liaison",)),
    ),
    "normal": (
        LadderStep(1, "not_accepted", timedelta(hours=2), "service", ("responsible_officer",)),
        LadderStep(2, "not_resolved", timedelta(hours=48), "wall", ("deputy_officer",)),
        LadderStep(3, "not_resolved", timedelta(hours=96), "wall", ("liaison",)),
    ),
}

# Service hours (local time) for "service" clocks: 08:00-20:00 every day.
SERVICE_HOURS = (time(8, 0), time(20, 0))
# Quiet hours (local time): non-urgent pushes wait until they end; urgent ones go at once.
QUIET_HOURS = (time(22, 0), time(7, 0))

# --- 包联 responsibility chain ---------------------------------------------------------------------
# The city's functional departments (code, name), each with two city liaisons (市级民政联络员). A
# city without department rows of its own is taken to have these, with no liaisons named.
DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("civil_affairs", "市民政局"),
    ("health", "市卫健委"),
    ("housing", "市住建局"),
    ("hrss", "市人社局"),
    ("medical_insurance", "市医保局"),
    ("emergency", "市应急管理局"),
    ("public_security", "市公安局"),
    ("education", "市教育局"),
    ("disabled_persons", "市残联"),
    ("women", "市妇联"),
    ("youth_league", "团市委"),
    ("agriculture", "市农业农村局"),
    ("rural_revitalization", "市乡村振兴局"),
    ("water", "市水利局"),
    ("transport", "市交通运输局"),
    ("market_regulation", "市市场监管局"),
    ("commerce", "市商务局"),
    ("finance", "市财政局"),
)
# Which department handles a request category (RequestCategory values -> department codes).
CATEGORY_DEPARTMENT: dict[str, str] = {
    "吃": "civil_affairs",
    "穿": "civil_affairs",
    "住": "housing",
    "医": "health",
    "帮购": "commerce",
    "联系亲人": "civil_affairs",
    "政策": "civil_affairs",
    "其他": "civil_affairs",
}
# Used when a category's department is missing from the city's departments.
DEFAULT_DEPARTMENT = "civil_affairs"
# Office hours of the city's departments (local time, Monday = 0). Outside them, urgent alerts for a
# liaison go to the city supervisor on duty (duty_shifts), and the liaison sees them next morning.
OFFICE_HOURS = (time(8, 30), time(17, 30))
OFFICE_DAYS = frozenset({0, 1, 2, 3, 4})
# The longest duty shift the rota accepts (a weekend from Friday 17:30 to Monday 08:30 is 63 hours).
DUTY_SHIFT_MAX_HOURS = 72

# A visit overdue by more than this many days is escalated to the town officers.
VISIT_OVERDUE_SLACK_DAYS = 7

# The trends page flags an assistant as overloaded above any of these (besides the service map's
# 150 people, services/dashboard.LOAD_THRESHOLD): more cases open at once than a village assistant
# can follow in a few days, or more people overdue for a visit than a week of visiting catches up.
ASSISTANT_OPEN_CASES_LIMIT = 5
ASSISTANT_OVERDUE_VISITS_LIMIT = 30

# Wrong bind codes from everyone together in one hour (each openid also has BIND_MAX_FAILURES a day):
# many openids guessing in parallel trip it, binding pauses for everyone for a while, and the log says
# `binding=guessing_alert`. A wave of people binding with a few typos stays well within it.
BIND_GUESSES_PER_HOUR = 30
BIND_GUESS_PAUSE_MINUTES = 30

# Dashboard sign-in: this many wrong passwords in a row lock the account for a while.
LOGIN_MAX_FAILURES = 5
LOGIN_LOCK_MINUTES = 15
# Sign-in attempts (every POST of the form, right or wrong) allowed per client address, and from
# everyone together (Flask-Limiter syntax). Against guessing across many staff numbers from one place,
# and against a flood; a town office of a dozen people behind one address signs in well within them.
SIGN_IN_LIMIT_PER_ADDRESS = "10/minute;50/hour"
SIGN_IN_LIMIT_OVERALL = "300/minute"
