terraform {
  # Same constraint as the root module (which needs 1.9 for validations that refer to other variables).
  # Only the built-in terraform_data resource is used: no provider to download.
  required_version = ">= 1.9.0, < 2.0.0"
}
