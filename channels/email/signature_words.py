"""Footers mail apps add and the closings people write, per language: data only.

A footer line ("Sent from my iPhone") is the app's, not the customer's: it is
the signature. A closing ("Best regards") is the customer's own line and stays
in the text; only contact details written below the closing and the name are
signature.
"""

from __future__ import annotations

# Whole-line patterns (regular expressions, matched case-insensitively against one
# trimmed line) of the footers phone and web mail apps append. "{device}" stands for
# one to four words naming the phone or app ("iPhone", "Samsung Galaxy S23").
DEVICE_FOOTERS: tuple[str, ...] = (
    # en
    r"sent from my {device}", r"sent from (?:yahoo mail|mail|outlook|zoho mail|aol mail|gmx|samsung mobile)"
    r"(?: (?:for|on) [\w\s.-]{2,30})?", r"get outlook for (?:ios|android|mac)", r"sent (?:with|from) proton ?mail"
    r"(?: secure email)?\.?", r"sent from proton mail (?:for )?(?:ios|android|mobile)", r"sent via [\w\s.-]{2,30}",
    r"sent from samsung galaxy smartphone\.?", r"sent using (?:the )?(?:zoho mail|mail\.com mail app|{device} app)",
    # de
    r"von meinem {device} gesendet", r"gesendet von meinem {device}",
    r"gesendet (?:mit|von) (?:der )?(?:gmx|web\.de|1&1|t-online) [\w\s.-]{0,30}",
    r"diese nachricht wurde von meinem [\w\s.-]{2,60} gesendet\.?", r"holen sie sich outlook für (?:ios|android)",
    r"outlook für (?:ios|android) herunterladen",
    # fr
    r"envoyé de mon {device}", r"envoyé depuis mon {device}",
    r"envoyé à partir de outlook pour (?:ios|android)", r"obtenir outlook pour (?:ios|android)",
    r"envoyé (?:de|depuis) (?:yahoo mail|l'application mail orange|outlook)[\w\s.'-]{0,30}",
    # es
    r"enviado desde mi {device}", r"enviado desde (?:yahoo mail|outlook)[\w\s.-]{0,30}",
    r"obtener outlook para (?:ios|android)",
    # it
    r"inviato da(?:l mio)? {device}", r"scarica outlook per (?:ios|android)",
    # pt
    r"enviado do meu {device}", r"enviado (?:do|a partir do) (?:yahoo mail|outlook)[\w\s.-]{0,30}",
    r"obter o outlook para (?:ios|android)",
    # nl
    r"verzonden (?:vanaf|met) mijn {device}", r"verstuurd (?:vanaf|met) mijn {device}",
    r"outlook voor (?:ios|android) downloaden",
    # pl, cs, sk, sl, hr
    r"wysłane z (?:mojego )?{device}", r"pobierz aplikację outlook dla systemu (?:ios|android)",
    r"odesláno z (?:mého )?{device}", r"odoslané z (?:môjho )?{device}",
    r"poslano (?:iz|s|z) (?:mojega |mog |moje )?{device}",
    # hu, ro, bg, el
    r"(?:elküldve az? |küldve az? ){device}", r"[\w\s.'’-]{2,30}-?(?:ról|ről|omról|emről) küldve",
    r"trimis de pe {device}", r"изпратено от (?:моя |моят )?{device}",
    r"στάλθηκε από (?:το |τη )?{device}",
    # fi, et, lv, lt, mt, ga
    r"lähetetty [\w\s.'’-]{2,30}(?:sta|stä|lla|llä)", r"saadetud (?:minu )?{device}",
    r"nosūtīts (?:no )?(?:mana )?{device}", r"išsiųsta (?:iš )?(?:mano )?{device}",
    r"mibgħut mill-{device}", r"seolta ó mo {device}",
    # da, sv, no
    r"sendt fra min {device}", r"skickat från min {device}", r"hent outlook til (?:ios|android)",
    r"skaff deg outlook for (?:ios|android)", r"hämta outlook för (?:ios|android)",
    # ru, uk
    r"отправлено (?:с|из) {device}", r"надіслано (?:з|із) {device}",
    r"-- ?отправлено из (?:мобильной )?(?:яндекс[ .]почты|почты mail\.ru)",
    # tr
    r"[\w\s.'’-]{2,30}(?:'?(?:umdan|imden|ımdan|undan|ümden)) gönderildi", r"ios için outlook'u edinin",
    # ja, zh, ko
    r"[\w\s.-]{0,20}から送信", r"发自我的[\w\s.-]{1,20}", r"从我的[\w\s.-]{1,20}发送", r"寄件自我的[\w\s.-]{1,20}",
    r"(?:나의 )?[\w\s.-]{1,20}에서 보냄",
    # ar, he, hi
    r"أُ?رسلت? من {device}", r"נשלח מ{device}", r"मेरे {device} से भेजा गया",
)

# Closings a customer writes before their name. Contact lines below "closing + name" are signature.
CLOSINGS: tuple[str, ...] = (
    "regards", "best regards", "kind regards", "warm regards", "best", "best wishes", "thanks", "thank you",
    "many thanks", "cheers", "sincerely", "yours sincerely", "yours faithfully",
    "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße", "viele grüße", "beste grüße",
    "liebe grüße", "lg", "mfg", "gruß", "grüße", "cordialement", "bien cordialement", "bien à vous",
    "salutations", "saludos", "un saludo", "atentamente", "cordiali saluti", "distinti saluti", "saluti",
    "atenciosamente", "cumprimentos", "abraços", "met vriendelijke groet", "vriendelijke groet", "groeten",
    "groetjes", "pozdrawiam", "z poważaniem", "s pozdravem", "s pozdravom", "lep pozdrav", "lp",
    "srdačan pozdrav", "lijep pozdrav", "üdvözlettel", "cu stimă", "cu bine", "поздрави", "с уважение",
    "με εκτίμηση", "φιλικά", "ystävällisin terveisin", "terveisin", "lugupidamisega", "parimate soovidega",
    "ar cieņu", "pagarbiai", "su pagarba", "dejjem tiegħek", "is mise le meas", "le meas", "med venlig hilsen",
    "venlig hilsen", "mvh", "med vänliga hälsningar", "vänliga hälsningar", "hälsningar", "med vennlig hilsen",
    "vennlig hilsen", "hilsen", "с уважением", "с наилучшими пожеланиями", "спасибо", "з повагою", "дякую",
    "saygılarımla", "iyi çalışmalar", "teşekkürler", "よろしくお願いいたします", "よろしくお願いします", "此致",
    "祝好", "谢谢", "감사합니다", "مع التحية", "مع خالص التحية", "בברכה", "תודה", "सादर", "धन्यवाद",
)
