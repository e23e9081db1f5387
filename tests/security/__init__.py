"""Security suite: authorization matrix, fuzzing, headers, secrets in logs."""
