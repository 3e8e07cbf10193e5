# The one root, applied once per env/region: the region's platform, one service module per
# services/*/service.yaml, and optional forwarding. What differs between env/regions is only
# infra/envs/<env>/<region>.tfvars and .s3.tfbackend (see infra/README.md).

locals {
  repo_root = "${path.root}/../.."
  services  = toset([for p in fileset("${local.repo_root}/services", "*/service.yaml") : dirname(p)])
}

module "region" {
  source       = "../modules/region"
  env          = var.env
  region       = var.region
  alarm_emails = var.alarm_emails
  # Every service's routes, for per-route throttling on the stage (created after the routes).
  routes = merge([for s in module.service : s.http_route_access]...)
  # Only where a tfvars says so (dev): buckets are emptied on destroy, so an environment can go away in one pass.
  force_destroy = var.force_destroy
}

module "service" {
  source        = "../modules/service"
  for_each      = local.services
  manifest_path = "${local.repo_root}/services/${each.key}/service.yaml"
  dist_dir      = "${local.repo_root}/dist"
  platform      = module.region.platform
}

module "forwarding" {
  source          = "../modules/forwarding"
  count           = var.forwarding == null ? 0 : 1
  env             = var.env
  source_region   = var.region
  target_region   = var.forwarding.target_region
  bus_name        = module.region.platform.bus_name
  kms_key_arn     = module.region.platform.kms_key_arn
  alarm_topic_arn = module.region.platform.alarm_topic_arn
  events          = var.forwarding.events
}
