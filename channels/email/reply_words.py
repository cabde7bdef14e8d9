"""The words mail clients write around quoted history, per language: data only.

Collected from the layouts Gmail, Apple Mail, Outlook (desktop, web, iOS,
Android), Thunderbird, Yahoo, Proton, Zoho, GMX/Web.de, Yandex, Mail.ru,
Naver and QQ produce in each interface language. A word here is never enough
on its own to cut a mail: ``quotes`` and ``headers`` also demand the shape
(a date, an address, a quoted or separated block below).
"""

from __future__ import annotations

# The verb of an attribution line ("On <date>, <name> wrote:"). Matched as whole
# words where the script separates words with spaces.
VERBS: dict[str, tuple[str, ...]] = {
    "en": ("wrote",),
    "de": ("schrieb", "geschrieben"),
    "fr": ("a écrit", "a ecrit"),
    "es": ("escribió", "escribio"),
    "it": ("ha scritto", "scritto"),
    "pt": ("escreveu",),
    "nl": ("schreef", "geschreven"),
    "pl": ("napisał", "napisał(a)", "napisała", "napisana", "pisze", "nadesłał"),
    "cs": ("napsal", "napsal(a)", "napsala"),
    "sk": ("napísal", "napísal(a)", "napísala"),
    "sl": ("napisal", "napisala", "napisal(a)"),
    "hr": ("napisao", "napisala", "napisao/la", "napisao je", "napisala je"),
    "hu": ("írta", "ezt írta"),
    "ro": ("a scris",),
    "bg": ("написа",),
    "el": ("έγραψε",),
    "fi": ("kirjoitti",),
    "et": ("kirjutas",),
    "lv": ("rakstīja",),
    "lt": ("rašė",),
    "mt": ("kiteb", "kitbet"),
    "ga": ("scríobh",),
    "da": ("skrev",),
    "sv": ("skrev",),
    "no": ("skrev",),
    "ru": ("написал", "написал(а)", "написала", "пишет"),
    "uk": ("пише", "написав", "написала", "написав(ла)"),
    "tr": ("yazdı", "şunu yazdı", "şunları yazdı"),
    "ja": ("のメッセージ", "のメール", "さんは書きました", "書きました"),
    "zh": ("写道", "寫道"),
    "ko": ("작성", "님이 작성", "쓴 글"),
    "ar": ("كتب",),
    "he": ("כתב", "כתב/ה", "כתבה"),
    "hi": ("ने लिखा", "लिखा"),
}

# Words right next to an attribution verb that make it the customer's own sentence
# ("On Monday I wrote:"): mail clients always write a name, never a pronoun.
FIRST_PERSON: frozenset[str] = frozenset({
    "i", "we", "you", "ich", "wir", "du", "jag", "jeg", "vi", "minä", "mina", "ma", "я", "мы",
})

# Header labels of a quoted or forwarded message, by field. "date" holds the sent-time labels.
LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {"from": ("From",), "date": ("Sent", "Date", "Sent on"), "to": ("To",),
           "subject": ("Subject",), "cc": ("Cc", "Bcc", "Reply-To")},
    "de": {"from": ("Von",), "date": ("Gesendet", "Datum", "Gesendet am"), "to": ("An",),
           "subject": ("Betreff",), "cc": ("Cc", "Kopie", "Antwort an")},
    "fr": {"from": ("De", "Expéditeur"), "date": ("Envoyé", "Envoyé le", "Date", "Message du"),
           "to": ("À", "A", "Pour", "Destinataire"), "subject": ("Objet", "Sujet"),
           "cc": ("Cc", "Cci", "Répondre à", "Copie à")},
    "es": {"from": ("De", "Remitente"), "date": ("Enviado", "Enviado el", "Fecha"), "to": ("Para",),
           "subject": ("Asunto",), "cc": ("CC", "CCO")},
    "it": {"from": ("Da", "Mittente"), "date": ("Inviato", "Data", "Inviato il"), "to": ("A", "Destinatario"),
           "subject": ("Oggetto",), "cc": ("Cc", "Ccn")},
    "pt": {"from": ("De",), "date": ("Enviado", "Enviada em", "Enviado em", "Data"), "to": ("Para",),
           "subject": ("Assunto",), "cc": ("Cc", "Cco")},
    "nl": {"from": ("Van",), "date": ("Verzonden", "Datum", "Verstuurd"), "to": ("Aan",),
           "subject": ("Onderwerp",), "cc": ("CC", "Kopie")},
    "pl": {"from": ("Od", "Nadawca"), "date": ("Wysłano", "Data", "Wysłane"), "to": ("Do", "Adresat"),
           "subject": ("Temat",), "cc": ("DW", "UDW", "Kopia")},
    "cs": {"from": ("Od",), "date": ("Odesláno", "Datum"), "to": ("Komu",),
           "subject": ("Předmět",), "cc": ("Kopie",)},
    "sk": {"from": ("Od",), "date": ("Odoslané", "Dátum"), "to": ("Komu",),
           "subject": ("Predmet",), "cc": ("Kópia",)},
    "sl": {"from": ("Od", "Pošiljatelj"), "date": ("Poslano", "Datum"), "to": ("Za", "Prejemnik"),
           "subject": ("Zadeva",), "cc": ("Kp", "Kopija")},
    "hr": {"from": ("Od", "Šalje"), "date": ("Poslano", "Datum"), "to": ("Prima", "Za"),
           "subject": ("Predmet",), "cc": ("Kopija",)},
    "hu": {"from": ("Feladó",), "date": ("Elküldve", "Dátum", "Küldve"), "to": ("Címzett",),
           "subject": ("Tárgy",), "cc": ("Másolatot kap", "Másolat")},
    "ro": {"from": ("De la", "De"), "date": ("Trimis", "Data", "Dată"), "to": ("Către", "Catre", "Pentru"),
           "subject": ("Subiect",), "cc": ("Cc",)},
    "bg": {"from": ("От",), "date": ("Изпратено", "Дата"), "to": ("До",),
           "subject": ("Относно", "Тема"), "cc": ("Копие",)},
    "el": {"from": ("Από",), "date": ("Στάλθηκε", "Ημερομηνία", "Αποστολή"), "to": ("Προς",),
           "subject": ("Θέμα",), "cc": ("Κοιν.", "Κοιν")},
    "fi": {"from": ("Lähettäjä",), "date": ("Lähetetty", "Päivämäärä", "Päiväys"), "to": ("Vastaanottaja",),
           "subject": ("Aihe",), "cc": ("Kopio",)},
    "et": {"from": ("Saatja", "Kellelt"), "date": ("Saadetud", "Kuupäev"), "to": ("Adressaat", "Kellele", "Saaja"),
           "subject": ("Teema",), "cc": ("Koopia",)},
    "lv": {"from": ("No", "Sūtītājs"), "date": ("Nosūtīts", "Datums"), "to": ("Kam", "Adresāts"),
           "subject": ("Tēma",), "cc": ("Kopija",)},
    "lt": {"from": ("Nuo", "Siuntėjas"), "date": ("Išsiųsta", "Data"), "to": ("Kam", "Gavėjas"),
           "subject": ("Tema",), "cc": ("Kopija",)},
    "mt": {"from": ("Minn",), "date": ("Mibgħut", "Intbagħat", "Data"), "to": ("Lil",),
           "subject": ("Suġġett",), "cc": ("Cc",)},
    "ga": {"from": ("Ó", "Seoltóir"), "date": ("Seolta", "Dáta"), "to": ("Chuig", "Go"),
           "subject": ("Ábhar",), "cc": ("Cc",)},
    "da": {"from": ("Fra",), "date": ("Sendt", "Dato"), "to": ("Til",),
           "subject": ("Emne",), "cc": ("Cc", "Kopi")},
    "sv": {"from": ("Från",), "date": ("Skickat", "Datum", "Skickades"), "to": ("Till",),
           "subject": ("Ämne",), "cc": ("Kopia", "Cc")},
    "no": {"from": ("Fra",), "date": ("Sendt", "Dato"), "to": ("Til",),
           "subject": ("Emne",), "cc": ("Kopi", "Cc")},
    "ru": {"from": ("От", "От кого"), "date": ("Отправлено", "Дата", "Отправлено:"), "to": ("Кому",),
           "subject": ("Тема",), "cc": ("Копия",)},
    "uk": {"from": ("Від",), "date": ("Надіслано", "Дата"), "to": ("Кому",),
           "subject": ("Тема",), "cc": ("Копія",)},
    "tr": {"from": ("Kimden", "Gönderen"), "date": ("Gönderildi", "Tarih", "Gönderilme"), "to": ("Kime", "Alıcı"),
           "subject": ("Konu",), "cc": ("Bilgi", "Cc")},
    "ja": {"from": ("差出人", "送信者"), "date": ("送信日時", "日付", "送信日"), "to": ("宛先", "受信者"),
           "subject": ("件名",), "cc": ("CC", "Cc")},
    "zh": {"from": ("发件人", "寄件者", "發件人"), "date": ("发送时间", "日期", "寄件日期", "時間", "时间"),
           "to": ("收件人", "收件者"), "subject": ("主题", "主旨", "主題"), "cc": ("抄送", "副本")},
    "ko": {"from": ("보낸 사람", "보낸사람"), "date": ("보낸 날짜", "날짜", "보낸날짜"), "to": ("받는 사람", "받는사람"),
           "subject": ("제목",), "cc": ("참조",)},
    "ar": {"from": ("من",), "date": ("تاريخ الإرسال", "التاريخ", "أُرسل", "مرسل"), "to": ("إلى",),
           "subject": ("الموضوع",), "cc": ("نسخة",)},
    "he": {"from": ("מאת",), "date": ("נשלח", "תאריך"), "to": ("אל",),
           "subject": ("נושא",), "cc": ("עותק",)},
    "hi": {"from": ("प्रेषक", "से"), "date": ("भेजा गया", "दिनांक", "भेजा"), "to": ("प्रति", "को"),
           "subject": ("विषय",), "cc": ("प्रतिलिपि",)},
}

# Titles of the line Outlook and webmails draw above a quoted original
# ("-----Original Message-----"): the message below is history of a reply.
ORIGINAL_TITLES: tuple[str, ...] = (
    "original message", "ursprüngliche nachricht", "message d'origine", "message d’origine", "mensaje original",
    "messaggio originale", "mensagem original", "oorspronkelijk bericht", "origineel bericht",
    "wiadomość oryginalna", "oryginalna wiadomość", "původní zpráva", "původní e-mail", "pôvodná správa", "izvirno sporočilo",
    "izvorna poruka", "eredeti üzenet", "mesaj original", "mesajul original", "оригинално съобщение",
    "αρχικό μήνυμα", "alkuperäinen viesti", "algsõnum", "algne kiri", "sākotnējais ziņojums",
    "pradinis pranešimas", "pradinis laiškas", "messaġġ oriġinali", "bunteachtaireacht",
    "oprindelig meddelelse", "ursprungligt meddelande", "opprinnelig melding", "исходное сообщение",
    "оригінальне повідомлення", "вихідне повідомлення", "özgün ileti", "orijinal mesaj", "orijinal ileti",
    "元のメッセージ", "原始邮件", "原始郵件", "원본 메시지", "원본 메일", "رسالة أصلية", "الرسالة الأصلية",
    "הודעה מקורית", "मूल संदेश", "reply message", "回复的原邮件",
)

# Titles and intro lines of a forwarded message ("---------- Forwarded message ---------",
# "Begin forwarded message:"): the message below is the customer's context, kept.
FORWARD_TITLES: tuple[str, ...] = (
    "forwarded message", "begin forwarded message", "forwarded email", "forwarded mail",
    "weitergeleitete nachricht", "anfang der weitergeleiteten nachricht", "anfang der weitergeleiteten e-mail",
    "weitergeleitete e-mail", "message transféré", "début du message réexpédié", "message réexpédié",
    "mensaje reenviado", "inicio del mensaje reenviado", "messaggio inoltrato", "inizio messaggio inoltrato",
    "mensagem encaminhada", "início da mensagem reencaminhada", "mensagem reencaminhada",
    "doorgestuurd bericht", "begin doorgestuurd bericht", "wiadomość przekazana dalej",
    "przekazana wiadomość", "początek przekazywanej wiadomości", "přeposlaná zpráva", "preposlaná správa",
    "posredovano sporočilo", "proslijeđena poruka", "továbbított levél", "továbbított üzenet",
    "mesaj redirecționat", "mesaj transmis", "препратено съобщение", "препратено писмо", "προωθημένο μήνυμα",
    "välitetty viesti", "edasi saadetud kiri", "edastatud kiri", "pārsūtīts ziņojums", "pārsūtītā vēstule",
    "persiųstas laiškas", "messaġġ mibgħut 'il quddiem", "teachtaireacht curtha ar aghaidh",
    "videresendt meddelelse", "videresendt besked", "vidarebefordrat meddelande", "videresendt melding",
    "пересылаемое сообщение", "переадресованное сообщение", "начало переадресованного сообщения",
    "переслане повідомлення", "пересланий лист", "iletilen ileti", "iletilen mesaj", "yönlendirilen ileti",
    "転送メッセージ", "転送されたメッセージ", "转发的邮件", "转发邮件", "轉寄郵件", "전달된 메시지", "전달된 메일",
    "الرسالة المُعاد توجيهها", "رسالة معاد توجيهها", "הודעה שהועברה", "הודעה מועברת", "अग्रेषित संदेश",
)

# Subject prefixes of a forward, per the clients' interface languages. Ambiguous ones
# (Danish "VS:" forwards, Finnish "VS:" replies) are left out: the body's markers decide.
FORWARD_PREFIXES: frozenset[str] = frozenset({
    "fwd", "fw", "wg", "tr", "rv", "enc", "i", "doorst", "pd", "vl", "vb", "ilt", "πρθ", "пересл", "переслано",
    "továbbítás", "转发", "轉寄", "転送", "전달",
})
