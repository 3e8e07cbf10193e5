provider "aws" {
  region              = var.region
  allowed_account_ids = var.allowed_account_ids

  default_tags {
    tags = {
      project    = "eda"
      env        = var.env
      region     = var.region
      owner      = var.owner
      managed_by = "terraform"
    }
  }
}
