-- Finds the invoice a payment attempt belongs to (3-D Secure returns).
CREATE INDEX IF NOT EXISTS invoices_payment ON invoices (payment_id)
