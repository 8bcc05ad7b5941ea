-- A card's recent history, for the retry policy.
CREATE INDEX IF NOT EXISTS card_attempts_card ON card_attempts (card_key, at)
