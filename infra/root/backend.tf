# Partial configuration: the env/region part comes from infra/envs/<env>/<region>.s3.tfbackend and
# the account's state bucket from the command line, e.g. (what `make plan ENV=dev REGION=eu-west-1` runs):
#   terraform -chdir=infra/root init -reconfigure \
#     -backend-config=../envs/dev/eu-west-1.s3.tfbackend -backend-config="bucket=<state bucket>"
terraform {
  backend "s3" {}
}
