output "region" {
  description = "The region's name."
  value       = var.region
}

output "role" {
  description = "primary or standby (the initial role; the failover agent moves leadership at run time)."
  value       = var.role
}

output "router_address" {
  description = "host:port merchants connect to in this region, or null when the region runs no router."
  value       = local.has_router ? local.router.listen : null
}

output "node_endpoint" {
  description = "host:port of the region's ledger node (gRPC, mTLS)."
  value       = local.node.grpc.address
}

output "postgres_endpoint" {
  description = "host:port of the region's PostgreSQL server."
  value       = "${var.host}:${var.ports.postgres}"
}

output "hazelcast_member" {
  description = "host:port of the region's Hazelcast CP member (embedded in the node)."
  value       = local.node.hazelcast.bind
}

output "firewall_rules" {
  description = "Inbound rules of the region's listeners, keyed by listener name."
  value       = local.firewall_rules
}

output "components" {
  description = "The configuration of each component, as recorded in the terraform_data resources."
  value = {
    postgres = local.postgres
    node     = local.node
    router   = local.router
  }
}
