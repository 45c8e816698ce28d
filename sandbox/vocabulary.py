"""Words the generator builds deals and visits from: names, markers, junk.

Kept apart from the generator so the mix of values a client must cope with
(DESIGN.md §4: the roistat value, money, Cyrillic text) reads as one list.
"""

from __future__ import annotations

COMPANIES_RU = (
    "ООО Ромашка",
    "ООО Вектор",
    "АО Северсталь-Сервис",
    "ИП Петров",
    "ООО Гранит",
    "ЗАО Альфа-Трейд",
    "ООО Лотос",
    "ООО ТехноСфера",
    "ИП Сидорова",
    "ООО Меридиан",
    "ООО «Берёзка»",
    "ПАО Звезда",
)
COMPANIES_EN = (
    "ACME Ltd",
    "Globex Corp",
    "Initech",
    "Umbrella LLC",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Soylent Inc",
)
FIRST_NAMES_RU = ("Алексей", "Мария", "Сергей", "Ольга", "Дмитрий", "Анна", "Игорь", "Елена")
SURNAMES_RU = (
    "Иванов",
    "Петрова",
    "Смирнов",
    "Кузнецова",
    "Попов",
    "Соколов",
    "Лебедева",
    "Козлов",
    "Новикова",
    "Морозов",
    "Волков",
    "Фёдорова",
)
FIRST_NAMES_EN = ("John", "Mary", "Peter", "Linda", "James", "Sofia", "Liam", "Emma")
SURNAMES_EN = ("Smith", "Johnson", "Brown", "O'Neil", "Miller", "Davis", "García", "Wilson")
LOGINS = ("ivanov", "petrova", "smirnov", "info", "sales", "office", "j.smith", "m.brown")
MAIL_DOMAINS = ("mail.ru", "yandex.ru", "gmail.com", "example.com", "bk.ru")
BRANDS = (("Acme", 30), ("Ромашка", 25), ("Globex", 15), ("Север", 10), ("", 20))
ORDER_COMMENTS = ("", "", "", "Доставка до двери", "Call before delivery", "Счёт на юрлицо")

# Visit channel markers and their UTM tags: (marker, source, medium, campaign, weight).
VISIT_MARKERS = (
    ("google_cpc_brand", "google", "cpc", "brand", 14),
    ("google_cpc_generic", "google", "cpc", "generic", 10),
    ("yandex_direct_search", "yandex", "cpc", "search_main", 18),
    ("yandex_direct_rsya", "yandex", "cpc", "rsya_retarget", 8),
    ("vk_target", "vk", "paid_social", "spring_sale", 7),
    ("telegram_ads", "telegram", "cpm", "channel_posts", 3),
    ("email_newsletter", "newsletter", "email", "monthly", 5),
    ("seo_google", "", "", "", 12),
    ("seo_yandex", "", "", "", 10),
    ("direct", "", "", "", 13),
)
LANDING_PAGES = (
    "https://example.ru/",
    "https://example.ru/catalog",
    "https://example.ru/promo/spring",
    "https://example.ru/контакты",
    "https://example.ru/price?utm=1",
)

# Offline channel markers typed into the roistat column for deals that did not
# come from the site: short text without digits (DESIGN.md §4).
OFFLINE_MARKERS = ("offline_expo", "radio", "tv", "billboard", "выставка", "sms_promo")

# Values the rules must call invalid: placeholders, overlong text, mixed junk.
JUNK_VALUES = (
    "{visit}",
    "{roistat_visit}",
    "abc123!",
    "визит №12ab",
    "12a34",
    "roistat_visit=1234567&utm_source=yandex&utm_medium",
    "пожалуйста перезвоните после обеда в любой рабочий",
)
