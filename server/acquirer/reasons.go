package acquirer

import "strings"

// Reason codes (CloudPayments' ReasonCode values, SPEC.md §1.4).
const (
	ReasonApproved                  = 0
	ReasonReferToCardIssuer         = 5001
	ReasonInvalidMerchant           = 5003
	ReasonPickUpCard                = 5004
	ReasonDoNotHonor                = 5005
	ReasonError                     = 5006
	ReasonPickUpCardSpecial         = 5007
	ReasonInvalidTransaction        = 5012
	ReasonAmountError               = 5013
	ReasonInvalidCardNumber         = 5014
	ReasonNoSuchIssuer              = 5015
	ReasonCustomerCancellation      = 5017
	ReasonTransactionError          = 5019
	ReasonFormatError               = 5030
	ReasonIssuerNotSupported        = 5031
	ReasonExpiredCardPickup         = 5033
	ReasonSuspectedFraud            = 5034
	ReasonRestrictedCard            = 5036
	ReasonLostCard                  = 5041
	ReasonStolenCard                = 5043
	ReasonInsufficientFunds         = 5051
	ReasonExpiredCard               = 5054
	ReasonIncorrectPIN              = 5055
	ReasonTransactionNotPermitted   = 5057
	ReasonNotPermittedToCard        = 5058
	ReasonIssuerSuspectedFraud      = 5059
	ReasonExceedWithdrawalLimit     = 5061
	ReasonRestricted                = 5062
	ReasonSecurityViolation         = 5063
	ReasonExceedWithdrawalFrequency = 5065
	ReasonIncorrectCVV              = 5082
	ReasonIssuerTimeout             = 5091
	ReasonCannotReachNetwork        = 5092
	ReasonSystemError               = 5096
	ReasonUnableToProcess           = 5204
	ReasonAuthenticationFailed      = 5206
	ReasonAuthenticationUnavailable = 5207
	ReasonAntiFraud                 = 5300
	ReasonTokenOfAnotherSite        = 6025
)

// Cardholder messages shared by several codes. Codes that would tell a
// fraudster something (lost, stolen, suspected fraud, pick-up) get the
// neutral "contact your bank" message, as banks and CloudPayments do.
var (
	msgContactBank = [2]string{
		"Contact your bank or use another card.",
		"Свяжитесь с вашим банком или воспользуйтесь другой картой.",
	}
	msgCheckCard = [2]string{
		"Check the card details or use another card.",
		"Проверьте правильность введённых данных карты или воспользуйтесь другой картой.",
	}
	msgAnotherCard = [2]string{
		"Use another card.",
		"Воспользуйтесь другой картой.",
	}
	msgLater = [2]string{
		"Try again later.",
		"Повторите попытку позже.",
	}
	msgLaterOrAnotherCard = [2]string{
		"Try again later or use another card.",
		"Повторите попытку позже или воспользуйтесь другой картой.",
	}
	msgDeclined = [2]string{
		"The payment was declined. Contact your bank or use another card.",
		"Платёж отклонён. Свяжитесь с вашим банком или воспользуйтесь другой картой.",
	}
)

type reason struct {
	name string
	msg  [2]string // English, Russian
}

var reasons = map[int]reason{
	ReasonApproved:                  {"Approved", [2]string{"Payment approved.", "Оплата прошла успешно."}},
	ReasonReferToCardIssuer:         {"ReferToCardIssuer", msgContactBank},
	ReasonInvalidMerchant:           {"InvalidMerchant", [2]string{"The shop cannot accept this payment now. Try again later or contact the shop.", "Магазин сейчас не может принять этот платёж. Повторите попытку позже или свяжитесь с магазином."}},
	ReasonPickUpCard:                {"PickUpCard", msgContactBank},
	ReasonDoNotHonor:                {"DoNotHonor", msgContactBank},
	ReasonError:                     {"Error", msgCheckCard},
	ReasonPickUpCardSpecial:         {"PickUpCardSpecialConditions", msgContactBank},
	ReasonInvalidTransaction:        {"InvalidTransaction", [2]string{"Use another card or contact the bank that issued it.", "Воспользуйтесь другой картой или свяжитесь с банком, выпустившим карту."}},
	ReasonAmountError:               {"AmountError", [2]string{"Check the amount.", "Проверьте корректность суммы."}},
	ReasonInvalidCardNumber:         {"InvalidCardNumber", [2]string{"Check the card number or use another card.", "Проверьте номер карты или воспользуйтесь другой картой."}},
	ReasonNoSuchIssuer:              {"NoSuchIssuer", msgAnotherCard},
	ReasonCustomerCancellation:      {"CustomerCancellation", [2]string{"The payment was cancelled.", "Платёж отменён."}},
	ReasonTransactionError:          {"TransactionError", msgLater},
	ReasonFormatError:               {"FormatError", msgLater},
	ReasonIssuerNotSupported:        {"BankNotSupportedBySwitch", msgAnotherCard},
	ReasonExpiredCardPickup:         {"ExpiredCardPickup", msgContactBank},
	ReasonSuspectedFraud:            {"SuspectedFraud", msgContactBank},
	ReasonRestrictedCard:            {"RestrictedCard", msgContactBank},
	ReasonLostCard:                  {"LostCard", msgContactBank},
	ReasonStolenCard:                {"StolenCard", msgContactBank},
	ReasonInsufficientFunds:         {"InsufficientFunds", [2]string{"Insufficient funds on the card.", "Недостаточно средств на карте."}},
	ReasonExpiredCard:               {"ExpiredCard", [2]string{"Check the card's expiry date or use another card.", "Проверьте срок действия карты или воспользуйтесь другой картой."}},
	ReasonIncorrectPIN:              {"IncorrectPIN", msgCheckCard},
	ReasonTransactionNotPermitted:   {"TransactionNotPermitted", msgContactBank},
	ReasonNotPermittedToCard:        {"TransactionNotPermittedToCard", msgContactBank},
	ReasonIssuerSuspectedFraud:      {"SuspectedFraudDecline", msgContactBank},
	ReasonExceedWithdrawalLimit:     {"ExceedWithdrawalLimit", [2]string{"The card's amount limit is exceeded. Contact your bank or use another card.", "Превышен лимит суммы по карте. Свяжитесь с вашим банком или воспользуйтесь другой картой."}},
	ReasonRestricted:                {"RestrictedCardService", msgContactBank},
	ReasonSecurityViolation:         {"SecurityViolation", msgContactBank},
	ReasonExceedWithdrawalFrequency: {"ExceedWithdrawalFrequency", [2]string{"The card's limit of operations is exceeded. Contact your bank or use another card.", "Превышен лимит операций по карте. Свяжитесь с вашим банком или воспользуйтесь другой картой."}},
	ReasonIncorrectCVV:              {"IncorrectCVV", [2]string{"Incorrect CVV code.", "Неверно указан код CVV."}},
	ReasonIssuerTimeout:             {"Timeout", msgLaterOrAnotherCard},
	ReasonCannotReachNetwork:        {"CannotReachNetwork", msgLaterOrAnotherCard},
	ReasonSystemError:               {"SystemError", msgLater},
	ReasonUnableToProcess:           {"UnableToProcess", msgContactBank},
	ReasonAuthenticationFailed:      {"AuthenticationFailed", [2]string{"3-D Secure authentication failed. Try again or use another card.", "Не пройдена аутентификация 3-D Secure. Повторите попытку или воспользуйтесь другой картой."}},
	ReasonAuthenticationUnavailable: {"AuthenticationUnavailable", [2]string{"3-D Secure authentication is unavailable. Try again later or use another card.", "Аутентификация 3-D Secure недоступна. Повторите попытку позже или воспользуйтесь другой картой."}},
	ReasonAntiFraud:                 {"AntiFraud", msgAnotherCard},
	ReasonTokenOfAnotherSite:        {"TokenOfAnotherSite", [2]string{"This saved card cannot be used here. Enter the card details.", "Сохранённую карту нельзя использовать здесь. Введите данные карты."}},
}

// ReasonName returns the short English name of a reason code, as
// CloudPayments puts it in Reason ("Approved", "InsufficientFunds"…), or
// "Unknown" for a code it does not know.
func ReasonName(code int) string {
	if r, ok := reasons[code]; ok {
		return r.name
	}
	return "Unknown"
}

// CardHolderMessage returns the message to show the payer for a reason code,
// in Russian when lang is Russian ("ru", "ru-RU", "ru_RU"…) and in English
// otherwise. Unknown codes get a generic decline message. The messages never
// say that a card was reported lost or stolen or looks fraudulent.
func CardHolderMessage(reasonCode int, lang string) string {
	i := 0
	if l := strings.ToLower(lang); l == "ru" || strings.HasPrefix(l, "ru-") || strings.HasPrefix(l, "ru_") {
		i = 1
	}
	if r, ok := reasons[reasonCode]; ok {
		return r.msg[i]
	}
	return msgDeclined[i]
}
