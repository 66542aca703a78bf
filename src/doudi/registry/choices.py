"""Code tables of the registry. Relations follow GB/T 4761-2008, ethnic groups GB/T 3304-1991,
disability categories GB/T 26341-2010 (see docs/glossary.md and shared standards-cn.md §2)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class HukouType(models.TextChoices):
    URBAN = "urban", _("城市")
    RURAL = "rural", _("农村")


class PovertyStatus(models.TextChoices):
    NOT_POOR = "not_poor", _("非建档立卡")
    POOR = "poor", _("建档立卡未脱贫")
    EXITED = "exited", _("建档立卡已脱贫")


class HouseholdStatus(models.TextChoices):
    ACTIVE = "active", _("正常")
    CANCELLED = "cancelled", _("已注销")


class Sex(models.TextChoices):
    MALE = "1", _("男")
    FEMALE = "2", _("女")


class LabourCapacity(models.TextChoices):
    FULL = "full", _("有劳动能力")
    PARTIAL = "partial", _("部分丧失劳动能力")
    NONE = "none", _("无劳动能力")


class DisabilityCategory(models.TextChoices):
    VISION = "1", _("视力残疾")
    HEARING = "2", _("听力残疾")
    SPEECH = "3", _("言语残疾")
    PHYSICAL = "4", _("肢体残疾")
    INTELLECTUAL = "5", _("智力残疾")
    MENTAL = "6", _("精神残疾")
    MULTIPLE = "7", _("多重残疾")


class LeftBehind(models.TextChoices):
    NONE = "", _("否")
    ELDERLY = "elderly", _("留守老年人")
    CHILD = "child", _("留守儿童")
    WOMAN = "woman", _("留守妇女")


class Relation(models.TextChoices):
    """与户主关系, GB/T 4761-2008 (the subset used on forms; group headings are valid codes)."""

    HEAD = "02", _("户主")
    SPOUSE = "10", _("配偶")
    HUSBAND = "11", _("夫")
    WIFE = "12", _("妻")
    SON = "20", _("子")
    ADOPTED_SON = "27", _("养子或继子")
    SON_IN_LAW = "28", _("女婿")
    DAUGHTER = "30", _("女")
    ADOPTED_DAUGHTER = "37", _("养女或继女")
    DAUGHTER_IN_LAW = "38", _("儿媳")
    GRANDCHILD = "40", _("孙子、孙女或外孙子、外孙女")
    GRANDSON = "41", _("孙子")
    GRANDDAUGHTER = "42", _("孙女")
    PARENT = "50", _("父母")
    FATHER = "51", _("父亲")
    MOTHER = "52", _("母亲")
    GRANDPARENT = "60", _("祖父母或外祖父母")
    SIBLING = "70", _("兄弟姐妹")
    OTHER = "80", _("其他")
    OTHER_RELATIVE = "97", _("其他亲属")
    NON_RELATIVE = "99", _("非亲属")


ETHNIC_GROUPS = {
    "01": "汉族",
    "02": "蒙古族",
    "03": "回族",
    "04": "藏族",
    "05": "维吾尔族",
    "06": "苗族",
    "07": "彝族",
    "08": "壮族",
    "09": "布依族",
    "10": "朝鲜族",
    "11": "满族",
    "12": "侗族",
    "13": "瑶族",
    "14": "白族",
    "15": "土家族",
    "16": "哈尼族",
    "17": "哈萨克族",
    "18": "傣族",
    "19": "黎族",
    "20": "傈僳族",
    "21": "佤族",
    "22": "畲族",
    "23": "高山族",
    "24": "拉祜族",
    "25": "水族",
    "26": "东乡族",
    "27": "纳西族",
    "28": "景颇族",
    "29": "柯尔克孜族",
    "30": "土族",
    "31": "达斡尔族",
    "32": "仫佬族",
    "33": "羌族",
    "34": "布朗族",
    "35": "撒拉族",
    "36": "毛南族",
    "37": "仡佬族",
    "38": "锡伯族",
    "39": "阿昌族",
    "40": "普米族",
    "41": "塔吉克族",
    "42": "怒族",
    "43": "乌孜别克族",
    "44": "俄罗斯族",
    "45": "鄂温克族",
    "46": "德昂族",
    "47": "保安族",
    "48": "裕固族",
    "49": "京族",
    "50": "塔塔尔族",
    "51": "独龙族",
    "52": "鄂伦春族",
    "53": "赫哲族",
    "54": "门巴族",
    "55": "珞巴族",
    "56": "基诺族",
    "97": "其他",
    "98": "外国血统中国籍人士",
}


class IncomeKind(models.TextChoices):
    WAGE = "wage", _("工资性收入")
    BUSINESS = "business", _("家庭经营净收入")
    PROPERTY = "property", _("财产净收入")
    SUPPORT = "support", _("赡养费、扶养费、抚养费")
    PENSION_BASIC = "pension_basic", _("城乡居民基本养老保险基础养老金")
    PENSION = "pension", _("其他养老金、离退休金")
    UNEMPLOYMENT = "unemployment", _("失业保险金")
    FAMILY_PLANNING_AWARD = "family_planning_award", _("计划生育奖励与扶助金")
    REWARD_SUBSIDY = "reward_subsidy", _("优抚金、奖学金、见义勇为等奖励性补助")
    SOCIAL_ASSISTANCE = "social_assistance", _("政府发放的社会救助款物")
    DISABILITY_SUBSIDY = "disability_subsidy", _("残疾人两项补贴")
    OTHER = "other", _("其他收入")


class AssetKind(models.TextChoices):
    DEPOSIT = "deposit", _("银行存款")
    SECURITIES = "securities", _("有价证券")
    VEHICLE = "vehicle", _("机动车辆")
    DISABLED_MOBILITY = "disabled_mobility", _("残疾人功能性补偿代步车")
    RESIDENTIAL = "residential_property", _("住宅")
    COMMERCIAL = "commercial_property", _("非住宅房产")
    BUSINESS = "business_registration", _("工商登记（市场主体）")
    OTHER = "other", _("其他财产")


class ExpenseKind(models.TextChoices):
    MEDICAL = "medical", _("医疗支出")
    EDUCATION = "education", _("教育支出")
    DISABILITY = "disability", _("残疾康复支出")
    EMPLOYMENT_COST = "employment_cost", _("必要就业成本")
    RENT = "rent", _("必要住房租金")
    OTHER = "other", _("其他刚性支出")
