"""The language guess on ordinary requests: the right code or `und`, never a wrong one.

The sentences are written for this test, six requests an LLM gets (a bug, an email, a concept, a
summary, a recipe, a schema) in each language the guess names, and three in languages it does not.
The same set decided keeping the guess rather than a library (see the module docstring).
"""

from __future__ import annotations

import pytest

from rulerouter.decide.language_guess import CODES, guess_language

REQUESTS: dict[str, list[str]] = {
    "en": [
        'Can you explain why my Python script runs out of memory when I read a large CSV file?',
        'Write a short email to my landlord asking when the heating will be repaired.',
        'What are the main differences between a mutex and a semaphore?',
        'Summarise the following meeting notes in three bullet points for the team.',
        'Please translate this paragraph into plain language for a ten-year-old.',
        'How should I structure the database tables for a small library that lends books?',
    ],
    "de": [
        'Kannst du mir erklären, warum mein Programm beim Start immer abstürzt?',
        'Schreib bitte eine kurze E-Mail an meinen Vermieter wegen der kaputten Heizung.',
        'Was ist der Unterschied zwischen einer Liste und einem Tupel in Python?',
        'Fasse die folgenden Notizen aus der Besprechung in drei Punkten zusammen.',
        'Wie kann ich die Datenbank so aufbauen, dass die Abfragen schneller werden?',
        'Ich suche ein einfaches Rezept für einen Kuchen ohne Eier.',
    ],
    "es": [
        '¿Puedes explicarme por qué mi programa se bloquea cuando abro un archivo grande?',
        'Escribe un correo breve a mi jefe pidiendo un día libre el viernes.',
        '¿Cuál es la diferencia entre un proceso y un hilo en un sistema operativo?',
        'Resume las siguientes notas de la reunión en tres puntos para el equipo.',
        'Necesito una receta sencilla de paella para cuatro personas.',
        '¿Cómo puedo organizar las tablas de la base de datos para una tienda pequeña?',
    ],
    "fr": [
        "Peux-tu m'expliquer pourquoi mon programme plante quand j'ouvre un gros fichier ?",
        'Écris un court message à mon propriétaire pour signaler que le chauffage ne marche plus.',
        'Quelle est la différence entre une liste et un dictionnaire en Python ?',
        "Résume les notes suivantes de la réunion en trois points pour l'équipe.",
        'Je cherche une recette simple de crêpes pour le petit déjeuner.',
        'Comment organiser les tables de la base de données pour une petite boutique en ligne ?',
    ],
    "pt": [
        'Você pode me explicar por que meu programa trava quando abro um arquivo grande?',
        'Escreva um e-mail curto para o meu chefe pedindo um dia de folga na sexta-feira.',
        'Qual é a diferença entre um processo e uma thread no sistema operacional?',
        'Resuma as notas da reunião em três pontos para a equipe.',
        'Preciso de uma receita simples de bolo de cenoura para o fim de semana.',
        'Como devo organizar as tabelas do banco de dados para uma pequena loja?',
    ],
    "it": [
        'Puoi spiegarmi perché il mio programma si blocca quando apro un file grande?',
        'Scrivi una breve email al mio capo per chiedere un giorno di ferie venerdì.',
        'Qual è la differenza tra un processo e un thread nel sistema operativo?',
        'Riassumi gli appunti della riunione in tre punti per la squadra.',
        'Cerco una ricetta semplice per la pasta al pomodoro per quattro persone.',
        'Come posso organizzare le tabelle del database per un piccolo negozio?',
    ],
    "nl": [
        'Kun je me uitleggen waarom mijn programma vastloopt als ik een groot bestand open?',
        'Schrijf een korte e-mail aan mijn huisbaas over de kapotte verwarming.',
        'Wat is het verschil tussen een proces en een thread in een besturingssysteem?',
        'Vat de aantekeningen van de vergadering samen in drie punten voor het team.',
        'Ik zoek een eenvoudig recept voor appeltaart voor het weekend.',
        'Hoe kan ik de tabellen in de database het beste indelen voor een kleine winkel?',
    ],
    "ja": [
        '大きなファイルを開くとプログラムが止まる理由を説明してください。',
        '金曜日に休みを取りたいと上司に送る短いメールを書いてください。',
        'オペレーティングシステムにおけるプロセスとスレッドの違いは何ですか？',
        '次の会議メモをチーム向けに三つの要点にまとめてください。',
        '週末に作れる簡単なカレーのレシピを教えてください。',
        '小さな店のためのデータベースのテーブル設計はどうすればいいですか？',
    ],
    "zh": [
        '请解释一下为什么我打开大文件时程序会卡住。',
        '帮我写一封简短的邮件给老板，请求星期五休假一天。',
        '操作系统中进程和线程有什么区别？',
        '请把下面的会议记录总结成三个要点发给团队。',
        '我想要一个简单的番茄炒蛋做法。',
        '一个小商店的数据库表应该怎么设计？',
    ],
    "ko": [
        '큰 파일을 열 때 프로그램이 멈추는 이유를 설명해 주세요.',
        '금요일에 휴가를 요청하는 짧은 이메일을 상사에게 써 주세요.',
        '운영체제에서 프로세스와 스레드의 차이점은 무엇인가요?',
        '다음 회의 메모를 팀을 위해 세 가지 요점으로 요약해 주세요.',
        '주말에 만들 수 있는 간단한 김치찌개 레시피를 알려 주세요.',
        '작은 가게를 위한 데이터베이스 테이블은 어떻게 설계해야 하나요?',
    ],
    "ru": [
        'Объясни, пожалуйста, почему моя программа зависает при открытии большого файла.',
        'Напиши короткое письмо начальнику с просьбой дать выходной в пятницу.',
        'В чём разница между процессом и потоком в операционной системе?',
        'Кратко изложи заметки с совещания в трёх пунктах для команды.',
        'Мне нужен простой рецепт борща на выходные.',
        'Как лучше спроектировать таблицы базы данных для небольшого магазина?',
    ],
    "ar": [
        'هل يمكنك أن تشرح لماذا يتوقف برنامجي عندما أفتح ملفا كبيرا؟',
        'اكتب رسالة قصيرة إلى مديري أطلب فيها إجازة يوم الجمعة.',
        'ما الفرق بين العملية والخيط في نظام التشغيل؟',
        'لخص ملاحظات الاجتماع التالية في ثلاث نقاط للفريق.',
        'أحتاج إلى وصفة بسيطة لطبق الكبسة لأربعة أشخاص.',
        'كيف أصمم جداول قاعدة البيانات لمتجر صغير؟',
    ],
    "he": [
        'תוכל להסביר למה התוכנית שלי נתקעת כשאני פותח קובץ גדול?',
        'כתוב מייל קצר למנהל שלי ובקש יום חופש ביום שישי.',
        'מה ההבדל בין תהליך לבין תהליכון במערכת הפעלה?',
        'סכם את הערות הפגישה הבאות בשלוש נקודות לצוות.',
        'אני צריך מתכון פשוט לשקשוקה לארוחת בוקר.',
        'איך כדאי לתכנן את הטבלאות במסד הנתונים עבור חנות קטנה?',
    ],
    "hi": [
        'क्या आप बता सकते हैं कि बड़ी फ़ाइल खोलने पर मेरा प्रोग्राम क्यों रुक जाता है?',
        'मेरे बॉस को शुक्रवार की छुट्टी माँगते हुए एक छोटा ईमेल लिखिए।',
        'ऑपरेटिंग सिस्टम में प्रोसेस और थ्रेड में क्या अंतर है?',
        'बैठक के नोट्स को टीम के लिए तीन बिंदुओं में संक्षेप में लिखिए।',
        'मुझे चार लोगों के लिए दाल बनाने की आसान विधि चाहिए।',
        'एक छोटी दुकान के लिए डेटाबेस की तालिकाएँ कैसे बनानी चाहिए?',
    ],
    "th": [
        'ช่วยอธิบายหน่อยว่าทำไมโปรแกรมของฉันค้างเมื่อเปิดไฟล์ขนาดใหญ่',
        'เขียนอีเมลสั้นๆ ถึงหัวหน้าเพื่อขอลาหยุดวันศุกร์',
        'กระบวนการกับเธรดในระบบปฏิบัติการต่างกันอย่างไร',
        'สรุปบันทึกการประชุมต่อไปนี้เป็นสามข้อสำหรับทีม',
        'ขอสูตรต้มยำกุ้งแบบง่ายๆ สำหรับสี่คน',
        'ควรออกแบบตารางฐานข้อมูลสำหรับร้านค้าเล็กๆ อย่างไร',
    ],
    "el": [
        'Μπορείς να μου εξηγήσεις γιατί το πρόγραμμά μου κολλάει όταν ανοίγω ένα μεγάλο αρχείο;',
        'Γράψε ένα σύντομο email στον προϊστάμενό μου για μια μέρα άδεια την Παρασκευή.',
        'Ποια είναι η διαφορά ανάμεσα σε διεργασία και νήμα σε ένα λειτουργικό σύστημα;',
        'Συνόψισε τις σημειώσεις της συνάντησης σε τρία σημεία για την ομάδα.',
        'Θέλω μια απλή συνταγή για μουσακά για τέσσερα άτομα.',
        'Πώς να σχεδιάσω τους πίνακες της βάσης δεδομένων για ένα μικρό κατάστημα;',
    ],
    # languages without a stopword list or a script of their own
    "uk": [
        'Поясни, будь ласка, чому моя програма зависає, коли я відкриваю великий файл.',
        "Напиши короткий лист керівникові з проханням дати вихідний у п'ятницю.",
        'Яка різниця між процесом і потоком в операційній системі?',
    ],
    "fa": [
        'می\u200cتوانی توضیح بدهی چرا برنامه\u200cام وقتی یک فایل بزرگ را باز می\u200cکنم متوقف می\u200cشود؟',
        'یک ایمیل کوتاه به مدیرم بنویس و برای جمعه مرخصی بخواه.',
        'تفاوت بین فرآیند و نخ در سیستم عامل چیست؟',
    ],
    "pl": [
        'Czy możesz wyjaśnić, dlaczego mój program zawiesza się przy otwieraniu dużego pliku?',
        'Napisz krótki e-mail do szefa z prośbą o wolny piątek.',
        'Jaka jest różnica między procesem a wątkiem w systemie operacyjnym?',
    ],
    "sv": [
        'Kan du förklara varför mitt program hänger sig när jag öppnar en stor fil?',
        'Skriv ett kort mejl till min chef och be om ledigt på fredag.',
        'Vad är skillnaden mellan en process och en tråd i ett operativsystem?',
    ],
    "tr": [
        'Büyük bir dosyayı açtığımda programımın neden donduğunu açıklayabilir misin?',
        'Patronuma cuma günü izin istediğim kısa bir e-posta yaz.',
        'İşletim sisteminde süreç ile iş parçacığı arasındaki fark nedir?',
    ],
    "id": [
        'Bisakah kamu menjelaskan mengapa program saya macet saat membuka file besar?',
        'Tulis email singkat kepada atasan saya untuk meminta cuti hari Jumat.',
        'Apa perbedaan antara proses dan thread dalam sistem operasi?',
    ],
}

#: A first line in English (a system line, an error, a header), then the request itself.
MIXED: list[tuple[str, str]] = [
    ('de', 'You are a helpful assistant. Answer briefly.\nIch habe eine Frage zu meinem Vertrag: kann ich ihn vor dem Ende der Laufzeit kündigen, wenn ich umziehe? Bitte erkläre mir die Regeln.'),
    ('fr', 'Traceback (most recent call last): File "app.py", line 3, in <module> KeyError: \'user\'\nPourquoi est-ce que j\'ai cette erreur alors que la clé existe dans le dictionnaire ? Je ne comprends pas.'),
    ('es', 'Context: internal wiki export, do not share.\nNecesito que me expliques cómo se calcula la prima anual y por qué ha subido tanto este año para los clientes antiguos.'),
    ('it', "Subject: Re: invoice 2291\nCiao, ho ricevuto la fattura ma l'importo non corrisponde al preventivo che mi avete mandato il mese scorso. Potete controllare per favore?"),
    ('nl', 'Error 502 Bad Gateway nginx/1.24.0\nWaarom krijg ik deze foutmelding steeds als ik de website open? Het werkte gisteren nog gewoon en ik heb niets veranderd.'),
    ('pt', "System: reply in the user's language.\nPreciso de ajuda para entender por que o meu aplicativo fica lento quando muitos usuários acessam ao mesmo tempo durante a tarde."),
]

#: Short, code-heavy or mixed prompts, hard for any identifier.
SHORT: list[tuple[str, str]] = [
    ('en', 'fix this'),
    ('en', 'hello'),
    ('de', 'Danke!'),
    ('en', 'SELECT * FROM users WHERE id = 1; why slow?'),
    ('en', 'Refactor: def f(x): return [i*i for i in range(x) if i % 2 == 0]'),
    ('de', "Bitte erkläre mir diesen Fehler: TypeError: 'NoneType' object is not subscriptable"),
    ('fr', 'Pourquoi `git rebase` supprime-t-il mes commits ?'),
    ('es', 'Traduce al inglés: la reunión es mañana a las diez'),
    ('zh', '请帮我优化这个SQL查询：SELECT name FROM orders WHERE total > 100'),
    ('ja', 'このReactコンポーネントのuseEffectが二回呼ばれるのはなぜですか？'),
]

NAMED = sorted(CODES - {"und"})


def guess(text: str) -> str:
    return guess_language(text.lower())  # the signal passes lower-cased prose


def test_the_set_covers_every_language_the_guess_names() -> None:
    assert set(NAMED) <= set(REQUESTS)


@pytest.mark.parametrize("language", NAMED)
def test_a_named_language_is_guessed_right_or_left_undetermined(language: str) -> None:
    guesses = [guess(text) for text in REQUESTS[language]]
    assert set(guesses) <= {language, "und"}, guesses  # abstaining is safe; a wrong code would route wrongly


def test_most_requests_are_guessed() -> None:
    right = sum(guess(text) == language for language in NAMED for text in REQUESTS[language])
    assert right >= 91, f"{right} of {sum(len(REQUESTS[language]) for language in NAMED)}"  # 91 when this test was written


@pytest.mark.parametrize(("language", "script"), [("uk", "ru"), ("fa", "ar")])
def test_a_script_is_not_a_language(language: str, script: str) -> None:
    assert {guess(text) for text in REQUESTS[language]} == {script}  # as the module docstring says


def test_latin_languages_without_a_list_are_mostly_undetermined() -> None:
    guesses = [guess(text) for language in ("pl", "sv", "tr", "id") for text in REQUESTS[language]]
    # 11 of 12 when this test was written; the twelfth, Polish "… do szefa z prośbą o …", shares
    # Portuguese's "do" and "o" and is read as `pt` — the limit the module docstring names.
    assert guesses.count("und") >= 11, guesses


@pytest.mark.parametrize(("language", "text"), MIXED)
def test_the_request_outweighs_an_english_first_line(language: str, text: str) -> None:
    assert guess(text) == language


def test_short_and_code_heavy_prompts_are_mostly_abstained_on() -> None:
    guesses = [(language, guess(text)) for language, text in SHORT]
    assert sum(g == language for language, g in guesses) >= 5, guesses  # 5 of 10 when this test was written
    # One is named wrong: the German question around an English error message reads as `en`.
    assert sum(g not in (language, "und") for language, g in guesses) <= 1, guesses
