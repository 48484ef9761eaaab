#include <doctest/doctest.h>

#include "engine/facts/secret_literals.h"

namespace podguard {

TEST_CASE("secret-like names are whole words") {
  for (const char* name : {"DB_PASSWORD", "PASSWORD", "passwd", "JWT_SECRET_KEY", "GITHUB_TOKEN", "API_KEY",
                           "STRIPE_APIKEY", "PRIVATE_KEY", "AWS_ACCESS_KEY", "AWS_ACCESS_KEYS", "GCP_CREDENTIAL",
                           "GCP_CREDENTIALS", "dbPassword", "apiKey", "APIKey", "client-secret", "app.secrets"}) {
    INFO(name);
    CHECK(secret_like_name(name));
  }
  for (const char* name : {"JWT_EXPIRY_SECONDS", "PASSWORDLESS_LOGIN", "TOKENIZER_MODEL", "KEY", "PUBLIC_KEY",
                           "SECRETARY_EMAIL", "MONKEY", "API_URL", "ACCESS_LOG", "LOG_LEVEL", ""}) {
    INFO(name);
    CHECK_FALSE(secret_like_name(name));
  }
}

TEST_CASE("secret-like values are recognised without looking at the name") {
  CHECK(secret_like_value("-----BEGIN RSA PRIVATE KEY-----\nMIIEXXXX\n-----END RSA PRIVATE KEY-----") ==
        "a PEM private key");
  CHECK(secret_like_value("-----BEGIN OPENSSH PRIVATE KEY-----") == "a PEM private key");
  CHECK(secret_like_value("AKIAIOSFODNN7EXAMPLE") == "an AWS access key id");
  CHECK(secret_like_value("id=AKIAIOSFODNN7EXAMPLE;") == "an AWS access key id");
  CHECK(secret_like_value("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl") == "a JWT");
  CHECK(secret_like_value("ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX") == "a GitHub token");
  CHECK(secret_like_value("glpat-XXXXXXXXXXXXXXXXXXXX") == "a GitLab token");
  CHECK(secret_like_value("xoxb-XXXXXXXXXXXX-XXXXXXXXXXXX") == "a Slack token");
  for (const char* harmless : {"-----BEGIN CERTIFICATE-----", "AKIA", "https://example.com", "info", "eyJ",
                               "sk-short", "ghp_short", "taskghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", "3600",
                               "a.b.c"}) {
    INFO(harmless);
    CHECK_FALSE(secret_like_value(harmless));
  }
}

TEST_CASE("values made only of $(VAR) references hold no literal") {
  CHECK(only_variable_references("$(DB_PASSWORD)"));
  CHECK(only_variable_references("$(A)$(B)"));
  CHECK_FALSE(only_variable_references("prefix-$(A)"));
  CHECK_FALSE(only_variable_references("$()"));
  CHECK_FALSE(only_variable_references("$(A"));
  CHECK_FALSE(only_variable_references(""));
}

}  // namespace podguard
