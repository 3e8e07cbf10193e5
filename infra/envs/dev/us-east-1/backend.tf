# Partial configuration: pass the state bucket at init time
#   terraform init -backend-config="bucket=<state bucket>"
terraform {
  backend "s3" {
    key          = "dev/us-east-1/terraform.tfstate"
    region       = "eu-west-1"
    encrypt      = true
    use_lockfile = true
  }
}
