package widget

import "strings"

// Lang picks the widget's language from a language tag ("ru", "ru-RU",
// "en-GB"…): Russian for Russian tags, English for everything else.
func Lang(tag string) string {
	t := strings.ToLower(strings.TrimSpace(tag))
	if t == "ru" || strings.HasPrefix(t, "ru-") || strings.HasPrefix(t, "ru_") {
		return "ru"
	}
	return "en"
}

// LangFromHeader picks the language from an Accept-Language header: its
// first tag decides.
func LangFromHeader(h string) string {
	first, _, _ := strings.Cut(h, ",")
	first, _, _ = strings.Cut(first, ";")
	return Lang(first)
}

// texts are the form's words. Keys used by the templates are in
// CamelCase; the "err." keys are the cryptogram package's field codes, which
// form.js shows under the field they belong to.
var texts = map[string]map[string]string{
	"en": {
		"Title":                        "Card payment",
		"Close":                        "Close",
		"Number":                       "Card number",
		"Expiry":                       "Expiry date",
		"ExpiryHint":                   "MM / YY",
		"CVV":                          "CVC / CVV",
		"CVVHint":                      "3 digits on the back",
		"Pay":                          "Pay",
		"Secure":                       "The card details are encrypted on this page and go only to altyn's payment service; the shop never sees them.",
		"ThreeDS":                      "Confirm the payment with your bank",
		"ThreeDSHint":                  "Your bank's page is below. The payment completes as soon as you confirm it.",
		"Loading":                      "Loading…",
		"Expired":                      "This invoice has expired.",
		"Cancelled":                    "This invoice has been cancelled.",
		"Paid":                         "This invoice has been paid.",
		"Processing":                   "A payment of this invoice is under way. Reload this page in a minute to see how it ended.",
		"NotFound":                     "There is no such invoice.",
		"BackToShop":                   "Return to the shop",
		"Invoice":                      "Invoice",
		"Demo":                         "altyn demo shop",
		"js.paying":                    "Processing…",
		"js.preparing":                 "Preparing the secure form…",
		"js.success":                   "Payment successful",
		"js.authorized":                "Payment authorized",
		"js.authorizedText":            "The amount is held on your card; the shop will charge it when it confirms the order.",
		"js.declined":                  "Payment declined",
		"js.failed":                    "The payment could not be made",
		"js.retry":                     "Try again",
		"js.done":                      "Done",
		"js.paidWith":                  "Paid with",
		"js.pending":                   "Waiting for the bank's answer…",
		"js.recurrentNote":             "No regular payments were scheduled: only this payment was made.",
		"js.recurrentOK":               "Regular payments are set up on this card.",
		"js.unavailable":               "The payment service cannot be reached. Check your connection and try again.",
		"js.loadFailed":                "The secure form could not be loaded. Reload the page and try again.",
		"js.invoiceBusy":               "This invoice is already being paid or has been paid.",
		"js.brandUnknown":              "",
		"err.CardNumber_Empty":         "Enter the card number",
		"err.CardNumber_Invalid":       "Check the card number",
		"err.ExpDateMonthYear_Empty":   "Enter the expiry date",
		"err.ExpDateMonthYear_Invalid": "The card has expired",
		"err.ExpDateMonth_Empty":       "Enter the month",
		"err.ExpDateMonth_Invalid":     "The month is 01 to 12",
		"err.ExpDateYear_Empty":        "Enter the year",
		"err.ExpDateYear_Invalid":      "Check the year",
		"err.Cvv_Empty":                "Enter the CVC / CVV",
		"err.Cvv_Invalid":              "The code has 3 digits (4 on American Express)",
		"err.Name_Invalid":             "Use Latin letters as on the card",
		"err.Name_TooShort":            "The name is too short",
		"err.Name_TooLong":             "The name is too long",
	},
	"ru": {
		"Title":                        "Оплата картой",
		"Close":                        "Закрыть",
		"Number":                       "Номер карты",
		"Expiry":                       "Срок действия",
		"ExpiryHint":                   "ММ / ГГ",
		"CVV":                          "CVC / CVV",
		"CVVHint":                      "3 цифры на обороте",
		"Pay":                          "Оплатить",
		"Secure":                       "Данные карты шифруются на этой странице и уходят только в платёжный сервис altyn; магазин их не видит.",
		"ThreeDS":                      "Подтвердите платёж в банке",
		"ThreeDSHint":                  "Ниже — страница вашего банка. Платёж завершится, как только вы его подтвердите.",
		"Loading":                      "Загрузка…",
		"Expired":                      "Срок оплаты этого счёта истёк.",
		"Cancelled":                    "Этот счёт отменён.",
		"Paid":                         "Этот счёт уже оплачен.",
		"Processing":                   "Этот счёт сейчас оплачивается. Обновите страницу через минуту, чтобы узнать результат.",
		"NotFound":                     "Такого счёта нет.",
		"BackToShop":                   "Вернуться в магазин",
		"Invoice":                      "Счёт",
		"Demo":                         "Демо-магазин altyn",
		"js.paying":                    "Платёж обрабатывается…",
		"js.preparing":                 "Готовим защищённую форму…",
		"js.success":                   "Оплата прошла успешно",
		"js.authorized":                "Сумма заблокирована",
		"js.authorizedText":            "Сумма заблокирована на карте; магазин спишет её, когда подтвердит заказ.",
		"js.declined":                  "Платёж отклонён",
		"js.failed":                    "Не удалось провести платёж",
		"js.retry":                     "Попробовать снова",
		"js.done":                      "Готово",
		"js.paidWith":                  "Оплачено картой",
		"js.pending":                   "Ждём ответа банка…",
		"js.recurrentNote":             "Регулярные платежи не оформлены: проведён только этот платёж.",
		"js.recurrentOK":               "Регулярные платежи по этой карте оформлены.",
		"js.unavailable":               "Платёжный сервис недоступен. Проверьте подключение и попробуйте снова.",
		"js.loadFailed":                "Не удалось загрузить защищённую форму. Обновите страницу и попробуйте снова.",
		"js.invoiceBusy":               "Этот счёт уже оплачивается или оплачен.",
		"js.brandUnknown":              "",
		"err.CardNumber_Empty":         "Введите номер карты",
		"err.CardNumber_Invalid":       "Проверьте номер карты",
		"err.ExpDateMonthYear_Empty":   "Введите срок действия",
		"err.ExpDateMonthYear_Invalid": "Срок действия карты истёк",
		"err.ExpDateMonth_Empty":       "Введите месяц",
		"err.ExpDateMonth_Invalid":     "Месяц — от 01 до 12",
		"err.ExpDateYear_Empty":        "Введите год",
		"err.ExpDateYear_Invalid":      "Проверьте год",
		"err.Cvv_Empty":                "Введите CVC / CVV",
		"err.Cvv_Invalid":              "Код — 3 цифры (4 у American Express)",
		"err.Name_Invalid":             "Латинскими буквами, как на карте",
		"err.Name_TooShort":            "Слишком короткое имя",
		"err.Name_TooLong":             "Слишком длинное имя",
	},
}

// scriptTexts are the texts form.js needs at run time (the "js." and
// "err." keys, without the prefix for "js.").
func scriptTexts(lang string) map[string]string {
	out := map[string]string{}
	for k, v := range texts[lang] {
		switch {
		case strings.HasPrefix(k, "js."):
			out[strings.TrimPrefix(k, "js.")] = v
		case strings.HasPrefix(k, "err."):
			out[k] = v
		}
	}
	return out
}
