# The ledger's topology as code: two regions (active-passive) and a witness in a third location.
#
#   region a (primary)                          region b (standby)
#   router-a :7400 ──mTLS──▶ node-a :7401        node-b :7402
#                            postgres-a :7432 ══sync WAL══▶ postgres-b :7433
#                            hazelcast-a :7501 ─ hazelcast-b :7502 ─ witness :7503   (CP group, Raft)
#
# target = "local" applies it on this machine through the ledger CLI; target = "model" only describes it.

locals {
  checkout   = abspath("${path.root}/..")
  dir        = var.deployment_dir == null ? "${local.checkout}/.ledger" : abspath(var.deployment_dir)
  ledger_cli = var.ledger_cli == null ? "${local.checkout}/ledger" : abspath(var.ledger_cli)
  pki_dir    = var.pki_dir == null ? "${local.dir}/pki" : abspath(var.pki_dir)

  regions = { for r in var.regions : r.name => r }

  # The CP group, in a fixed order: the regions (as listed), then the witness.
  cp_members = concat(
    [for r in var.regions : { name = r.name, component = "node-${r.name}", host = r.host, port = r.hazelcast_port }],
    [{ name = "witness", component = "witness", host = var.witness.host, port = var.witness.hazelcast_port }],
  )

  router_upstreams  = [for r in var.regions : { region = r.name, address = "${r.host}:${r.node_port}" }]
  router_components = [for r in var.regions : "router-${r.name}" if r.router_port != null]

  # What `ledger up` builds (ledger-cli Topology.create and Coordination): the CLI takes no port or timing
  # options, so the local target only accepts exactly this layout. It picks another free port when a
  # preferred one is taken; the check after `up` warns when that happened.
  local_layout = {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502, router_port = null },
    ]
    witness   = { host = "127.0.0.1", hazelcast_port = 7503 }
    cp_timing = { session_ttl_seconds = 3, heartbeat_seconds = 1, leader_lease_ms = 1500 }
  }
  matches_local_layout = (
    jsonencode(var.regions) == jsonencode(local.local_layout.regions) &&
    jsonencode({ host = var.witness.host, hazelcast_port = var.witness.hazelcast_port }) == jsonencode(local.local_layout.witness) &&
    jsonencode(var.cp_timing) == jsonencode(local.local_layout.cp_timing)
  )

  # Addresses `ledger status --json` reports, to compare after `up`.
  local_status_addresses = concat(
    [for r in var.regions : "${r.host}:${r.node_port}"],
    [for r in var.regions : "${r.host}:${r.postgres_port}"],
    [for r in var.regions : "${r.host}:${r.router_port}" if r.router_port != null],
    ["${var.witness.host}:${var.witness.hazelcast_port}"],
  )
}

module "region" {
  source   = "./modules/region"
  for_each = local.regions

  region = each.key
  role   = each.value.role
  host   = each.value.host
  ports = {
    postgres  = each.value.postgres_port
    node      = each.value.node_port
    hazelcast = each.value.hazelcast_port
    router    = each.value.router_port
  }
  peer_postgres = one([
    for r in var.regions : { region = r.name, host = r.host, port = r.postgres_port } if r.name != each.key
  ])
  cp_members        = local.cp_members
  cp_timing         = var.cp_timing
  wal_keeper_url    = "https://${var.witness.host}:${var.witness.wal_port}"
  router_upstreams  = local.router_upstreams
  router_components = local.router_components
  trust_domain      = var.trust_domain
  merchant_sources  = var.merchant_sources
  operator_sources  = var.operator_sources
  tls = {
    ca_file            = "${local.pki_dir}/ca.crt"
    node_cert_file     = "${local.pki_dir}/node-${each.key}.crt"
    node_key_file      = "${local.pki_dir}/node-${each.key}.key"
    router_cert_file   = "${local.pki_dir}/router-${each.key}.crt"
    router_key_file    = "${local.pki_dir}/router-${each.key}.key"
    postgres_cert_file = "${local.pki_dir}/postgres-${each.key}.crt"
    postgres_key_file  = "${local.pki_dir}/postgres-${each.key}.key"
  }
}

module "witness" {
  source = "./modules/witness"

  host           = var.witness.host
  hazelcast_port = var.witness.hazelcast_port
  wal_port       = var.witness.wal_port
  location       = var.witness.location
  cp_members     = local.cp_members
  cp_timing      = var.cp_timing
  trust_domain   = var.trust_domain
  tls = {
    ca_file   = "${local.pki_dir}/ca.crt"
    cert_file = "${local.pki_dir}/walkeeper.crt"
    key_file  = "${local.pki_dir}/walkeeper.key"
  }
  postgres_endpoints = { for r in var.regions : r.name => "${r.host}:${r.postgres_port}" }
}

# The local target: the whole topology on this machine, by the CLI. Create runs `ledger up --detach`
# (builds the CLI on first use, starts everything, returns once a leader serves); destroy runs
# `ledger destroy` (stops everything and DELETES the deployment's data). Changing the directory replaces
# the resource: the old deployment is destroyed, a new one created.
resource "terraform_data" "local_deployment" {
  count = var.target == "local" ? 1 : 0

  input = {
    dir               = local.dir
    cli               = local.ledger_cli
    up_command        = "\"$LEDGER_CLI\" up --detach --dir \"$LEDGER_DIR\""
    destroy_command   = "\"$LEDGER_CLI\" destroy --dir \"$LEDGER_DIR\""
    status_command    = "\"$LEDGER_CLI\" status --json --dir \"$LEDGER_DIR\""
    status_addresses  = local.local_status_addresses
    hazelcast_members = [for m in local.cp_members : "${m.host}:${m.port}"]
  }
  triggers_replace = [local.dir]

  provisioner "local-exec" {
    command = self.input.up_command
    environment = {
      LEDGER_CLI = self.input.cli
      LEDGER_DIR = self.input.dir
    }
  }

  # The CLI chooses another free port when a preferred one is taken; then this model's outputs are not
  # the deployment's real addresses. Warn (not fail: a failed create would taint the resource, and the
  # next apply would destroy the deployment's data to recreate it).
  provisioner "local-exec" {
    command = <<-EOT
      status="$(${self.input.status_command} 2>&1 || true)"
      for a in $EXPECTED; do
        case "$status" in
          *"\"$a\""*) ;;
          *) echo "WARNING: the local deployment does not listen on $a as modelled (a port was taken?); real addresses: ledger status --dir $LEDGER_DIR" >&2 ;;
        esac
      done
    EOT
    environment = {
      LEDGER_CLI = self.input.cli
      LEDGER_DIR = self.input.dir
      EXPECTED   = join(" ", self.input.status_addresses)
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = self.input.destroy_command
    environment = {
      LEDGER_CLI = self.input.cli
      LEDGER_DIR = self.input.dir
    }
  }

  # Destroy the running deployment before the component descriptions go.
  depends_on = [module.region, module.witness]

  lifecycle {
    precondition {
      condition     = local.matches_local_layout
      error_message = "target = \"local\" runs the ledger CLI, which always builds regions a (primary) and b (standby) on 127.0.0.1 with PostgreSQL 7432/7433, nodes 7401/7402, Hazelcast 7501/7502, witness 7503, one router 7400 (in region a) and CP timing 3 s / 1 s / 1500 ms. Use target = \"model\" for any other topology."
    }
  }
}
