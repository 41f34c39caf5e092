output "router_addresses" {
  description = "Where merchants connect (gRPC, mTLS): region => host:port, for every region that runs a router."
  value       = { for name, r in module.region : name => r.router_address if r.router_address != null }
}

output "node_endpoints" {
  description = "The ledger nodes' gRPC endpoints (mTLS; routers and operators only): region => host:port."
  value       = { for name, r in module.region : name => r.node_endpoint }
}

output "postgres_endpoints" {
  description = "Each region's PostgreSQL server and its initial role: region => { address, role }."
  value       = { for name, r in module.region : name => { address = r.postgres_endpoint, role = r.role } }
}

output "hazelcast_members" {
  description = "The Hazelcast CP member list every member is configured with (host:port): region a, region b, witness."
  value       = [for m in local.cp_members : "${m.host}:${m.port}"]
}

output "cp_members" {
  description = "The CP members with the component that runs each (the regions' nodes embed theirs)."
  value       = local.cp_members
}

output "firewall_rules" {
  description = <<-EOT
    Inbound rules, keyed by listener (router-<r>, node-<r>, postgres-<r>, hazelcast-<r>, hazelcast-witness):
    host, port, transport and allowed_sources (component names, or the merchant/operator sources). Everything
    not listed is denied. Hazelcast ports admit only the two other CP members.
  EOT
  value = merge(
    merge([for r in module.region : r.firewall_rules]...),
    module.witness.firewall_rules,
  )
}

output "failover_timing" {
  description = "CP session TTL and heartbeat (s) and the leader lease (ms)."
  value       = var.cp_timing
}

output "wal_keeper" {
  description = "The witness's WAL keeper: pg_receivewal --synchronous (one site of the leader's commit quorum), its TLS identity, the PostgreSQL servers it follows, and its base backups."
  value       = module.witness.wal_keeper
}

output "pki" {
  description = "The deployment's PKI directory and CA certificate; components use <dir>/<component>.crt/.key."
  value = {
    dir          = local.pki_dir
    ca_file      = "${local.pki_dir}/ca.crt"
    trust_domain = var.trust_domain
  }
}

output "local_deployment" {
  description = "The local target: deployment directory and the CLI commands it runs (null when target = \"model\")."
  value = var.target == "local" ? {
    dir     = local.dir
    cli     = local.ledger_cli
    up      = "${local.ledger_cli} up --detach --dir ${local.dir}"
    status  = "${local.ledger_cli} status --dir ${local.dir}"
    destroy = "${local.ledger_cli} destroy --dir ${local.dir}"
  } : null
}

output "site_configs" {
  description = "Targets local and sites: each site's configuration file (path and JSON) as `ledger site up <site> --config <file>` reads it."
  value       = var.target == "model" ? null : { for s, c in local.site_configs : s => { file = local.site_config_files[s], config = jsonencode(c) } }
}
