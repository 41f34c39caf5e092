terraform {
  # 1.9 is the first version whose variable validations may refer to other variables (used in
  # variables.tf); verified with 1.11.4. Only the built-in terraform_data resource is used, so no
  # provider is downloaded and init works offline.
  required_version = ">= 1.9.0, < 2.0.0"
}
