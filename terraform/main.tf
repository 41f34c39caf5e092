# The ledger's topology as code: two regions (active-passive) and a witness in a third location.
#
#   region a (primary)                          region b (standby)
#   router-a :7400 ──mTLS──▶ node-a :7401        node-b :7402
#                            postgres-a :7432 ══sync WAL══▶ postgres-b :7433
#                            hazelcast-a :7501 ─ hazelcast-b :7502 ─ witness :7503   (CP group, Raft)
#
# target = "local" applies it on this machine through the ledger CLI in one resource, target = "sites" one resource
# per site (each created, changed and destroyed on its own); target = "model" only describes it.

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

  # Targets local and sites run the processes on this machine: every site's configuration as the CLI reads it
  # (ledger-cli SiteConfig; `ledger site up <site> --config <file>`). A file holds its site's own settings and its
  # peers' listeners only, so a change of one region's settings changes that region's file alone.
  router_region = try([for r in var.regions : r if r.router_port != null][0], null)
  site_listeners = merge(
    { for r in var.regions : r.name => {
      kind      = "region"
      role      = r.role
      listeners = tomap({ postgres = r.postgres_port, node = r.node_port, hazelcast = r.hazelcast_port })
    } },
    { witness = { kind = "witness", role = "", listeners = tomap({ hazelcast = var.witness.hazelcast_port, wal = var.witness.wal_port }) } },
    { router = { kind = "router", role = "", listeners = tomap({ router = try(local.router_region.router_port, 0) }) } },
  )
  site_identity = merge({ for r in var.regions : r.name => "node-${r.name}" }, { witness = "walkeeper", router = "router" })
  site_configs = { for name, s in local.site_listeners : name => merge(
    {
      format      = 1
      site        = name
      kind        = s.kind
      dir         = local.dir
      layout      = var.sites_layout
      trustDomain = var.trust_domain
      listeners   = s.listeners
      cp = {
        sessionTtlSeconds = var.cp_timing.session_ttl_seconds
        heartbeatSeconds  = var.cp_timing.heartbeat_seconds
        leaderLeaseMs     = var.cp_timing.leader_lease_ms
      }
      tls = {
        caFile   = "${local.pki_dir}/ca.crt"
        certFile = "${local.pki_dir}/${local.site_identity[name]}.crt"
        keyFile  = "${local.pki_dir}/${local.site_identity[name]}.key"
      }
      peers = { for other, p in local.site_listeners : other => p if other != name }
    },
    { role = s.role, postgres = s.kind == "region" ? local.regions[name].postgres : tomap({}) },
  ) }
  # Where each rendered file goes: named after its content, so a replaced site's old file stays for its removal.
  site_config_files = { for name, c in local.site_configs : name => "${local.dir}/terraform/${name}-${substr(sha256(jsonencode(c)), 0, 12)}.json" }
  # The primary's region first: the standby's PostgreSQL is cloned from it.
  site_order = concat(
    [for r in var.regions : r.name if r.role == "primary"],
    [for r in var.regions : r.name if r.role != "primary"],
    ["witness", "router"],
  )

  # What the machine can run: one router (the CLI runs a single one), every listener on 127.0.0.1 (loopback) or
  # the CLI's own addresses (netns), the witness's WAL port free too.
  runnable_here = (
    length([for r in var.regions : r if r.router_port != null]) == 1 &&
    (var.sites_layout == "netns" || alltrue(concat([for r in var.regions : r.host == "127.0.0.1"], [var.witness.host == "127.0.0.1"]))) &&
    length(distinct(flatten([for s in local.site_listeners : values(s.listeners)]))) == length(flatten([for s in local.site_listeners : values(s.listeners)]))
  )
  runnable_error = "targets local and sites run on this machine: exactly one region has a router_port (the CLI runs one router), with sites_layout = \"loopback\" every host is 127.0.0.1, and every listener (the witness's wal_port included) has a port of its own. Use target = \"model\" for anything else."

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

# The local target: the whole topology on this machine, in one resource. Create writes every site's
# configuration and runs `ledger site up` for each (the primary's region first, then the standby's, the witness,
# the router: what `ledger up` does with its default layout); destroy runs `ledger destroy` (stops everything and
# DELETES the deployment's data). Changing the directory replaces the resource: the old deployment is destroyed,
# a new one created.
resource "terraform_data" "local_deployment" {
  count = var.target == "local" ? 1 : 0

  input = {
    dir               = local.dir
    cli               = local.ledger_cli
    up_command        = join(" && ", [for s in local.site_order : "\"$LEDGER_CLI\" site up ${s} --config \"${local.site_config_files[s]}\""])
    destroy_command   = "\"$LEDGER_CLI\" destroy --dir \"$LEDGER_DIR\""
    status_command    = "\"$LEDGER_CLI\" status --json --dir \"$LEDGER_DIR\""
    status_addresses  = local.local_status_addresses
    hazelcast_members = [for m in local.cp_members : "${m.host}:${m.port}"]
    site_configs      = { for s, c in local.site_configs : local.site_config_files[s] => jsonencode(c) }
  }
  triggers_replace = [local.dir]

  provisioner "local-exec" {
    command = <<-EOT
      set -e
      mkdir -p "$LEDGER_DIR/terraform"
      printf '%s\n' "$CONFIGS" | while IFS="$(printf '\t')" read -r file config; do printf '%s\n' "$config" > "$file"; done
      ${self.input.up_command}
    EOT
    environment = {
      LEDGER_CLI = self.input.cli
      LEDGER_DIR = self.input.dir
      CONFIGS    = join("\n", [for f, c in self.input.site_configs : "${f}\t${c}"])
    }
  }

  # With sites_layout = "netns" the sites' addresses are the CLI's own; warn when what runs is not what is modelled.
  provisioner "local-exec" {
    command = <<-EOT
      status="$(${self.input.status_command} 2>&1 || true)"
      for a in $EXPECTED; do
        case "$status" in
          *"\"$a\""*) ;;
          *) echo "WARNING: the local deployment does not listen on $a as modelled (netns addresses are the CLI's); real addresses: ledger status --dir $LEDGER_DIR" >&2 ;;
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
      condition     = local.runnable_here
      error_message = local.runnable_error
    }
  }
}

# The sites target: each site a resource of its own, on its own host (a network namespace with sites_layout =
# "netns", 127.0.0.1 without). Its input is the site's configuration file; a change replaces it: the new one is
# created first (`ledger site up` rolls the running site: a leading region hands over, restarts, and is waited for
# until it streams in the new leader's commit quorum with every acknowledged write in two sites), then the old one
# is destroyed (`ledger site down --config <old file>`: a no-op, another configuration being applied). Destroying a
# site stops it and removes its data: for a region a planned removal (it hands leadership over first; the other
# region writes on with the witness as its second site), undone by applying again (rebuilt from the other region).
resource "terraform_data" "site" {
  for_each = var.target == "sites" ? local.site_configs : {}

  input = {
    site   = each.key
    cli    = local.ledger_cli
    file   = local.site_config_files[each.key]
    config = jsonencode(each.value)
  }
  triggers_replace = [jsonencode(each.value)]

  provisioner "local-exec" {
    command = <<-EOT
      set -e
      mkdir -p "$(dirname "$CONFIG_FILE")"
      printf '%s\n' "$CONFIG" > "$CONFIG_FILE"
      "$LEDGER_CLI" site up "$SITE" --config "$CONFIG_FILE"
    EOT
    environment = {
      LEDGER_CLI  = self.input.cli
      SITE        = self.input.site
      CONFIG_FILE = self.input.file
      CONFIG      = self.input.config
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = <<-EOT
      if [ -f "$CONFIG_FILE" ]; then "$LEDGER_CLI" site down "$SITE" --config "$CONFIG_FILE" --purge; else echo "site $SITE: $CONFIG_FILE is gone (the deployment was removed): nothing to stop"; fi
    EOT
    environment = {
      LEDGER_CLI  = self.input.cli
      SITE        = self.input.site
      CONFIG_FILE = self.input.file
    }
  }

  depends_on = [module.region, module.witness]

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = local.runnable_here
      error_message = local.runnable_error
    }
  }
}
