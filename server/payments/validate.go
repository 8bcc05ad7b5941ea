package payments

import (
	"errors"
	"fmt"
	"reflect"

	"github.com/go-playground/validator/v10"
)

// Validator checks a command's validator tags and answers one
// InvalidArgument that lists every bad field by its API name. The invoice
// and subscription services use it too, so every API words its field
// errors alike.
type Validator struct{ v *validator.Validate }

// NewValidator makes a Validator.
func NewValidator() *Validator {
	v := validator.New(validator.WithRequiredStructEnabled())
	// Name fields in errors as the API does ("amount.currency"), not as Go does.
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		if name := f.Tag.Get("field"); name != "" {
			return name
		}
		return f.Name
	})
	return &Validator{v}
}

// Check validates cmd, a struct or a pointer to one.
func (v *Validator) Check(cmd any) error {
	err := v.v.Struct(cmd)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return fmt.Errorf("validate: %w", err)
	}
	fields := make([]FieldViolation, 0, len(verrs))
	for _, fe := range verrs {
		fields = append(fields, FieldViolation{Field: fe.Field(), Code: fe.Tag(), Description: describe(fe)})
	}
	return invalidFields(fields)
}

func describe(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return fe.Field() + " is required"
	case "gt":
		return fe.Field() + " must be greater than " + fe.Param()
	case "gte":
		return fe.Field() + " must be at least " + fe.Param()
	case "lte", "max":
		return fe.Field() + " must be at most " + fe.Param()
	case "min":
		return fe.Field() + " must not be empty"
	case "oneof":
		return fe.Field() + " must be one of " + fe.Param()
	case "iso4217":
		return fe.Field() + " must be an upper-case ISO 4217 currency code such as RUB"
	case "email":
		return fe.Field() + " must be an e-mail address"
	case "ip":
		return fe.Field() + " must be an IPv4 or IPv6 address"
	case "url", "http_url":
		return fe.Field() + " must be an absolute http(s) URL"
	case "json":
		return fe.Field() + " must be a JSON object"
	case "printascii":
		return fe.Field() + " must be printable ASCII"
	}
	return fe.Field() + " fails " + fe.Tag()
}

// Invalid is an InvalidArgument about one field.
func Invalid(field, code, msg string) error {
	return &Error{Kind: KindInvalid, Reason: ErrInvalidArgument.Reason, Message: msg,
		Fields: []FieldViolation{{Field: field, Code: code, Description: msg}}}
}
