# One region of the ledger: its PostgreSQL server, its ledger node (the gRPC API, the region's Hazelcast
# CP member and the failover agent in one process) and, optionally, its region router.
#
# Offline, only the built-in terraform_data resource exists, so every component is described as data:
# its `input` is the component's complete configuration (listeners, peers, TLS files, who may connect).
# A real deployment keeps these locals and replaces each terraform_data with the provider resources that
# run the component (see terraform/README.md).

locals {
  node_component     = "node-${var.region}"
  postgres_component = "postgres-${var.region}"
  router_component   = "router-${var.region}"
  peer               = var.peer_postgres.region
  peer_node          = "node-${var.peer_postgres.region}"
  peer_postgres      = "postgres-${var.peer_postgres.region}"
  has_router         = var.ports.router != null

  own_member    = [for m in var.cp_members : m if m.component == local.node_component]
  other_members = [for m in var.cp_members : m if m.component != local.node_component]

  identity = {
    node     = "spiffe://${var.trust_domain}/region/${var.region}/node"
    postgres = "spiffe://${var.trust_domain}/region/${var.region}/postgres"
    router   = "spiffe://${var.trust_domain}/region/${var.region}/router"
  }

  postgres = {
    component = local.postgres_component
    region    = var.region
    role      = var.role
    host      = var.host
    port      = var.ports.postgres
    identity  = local.identity.postgres
    tls = {
      ca_file   = var.tls.ca_file
      cert_file = var.tls.postgres_cert_file
      key_file  = var.tls.postgres_key_file
    }
    settings = {
      listen_addresses = var.host
      port             = var.ports.postgres
      ssl              = "on"
      ssl_ca_file      = var.tls.ca_file
      ssl_cert_file    = var.tls.postgres_cert_file
      ssl_key_file     = var.tls.postgres_key_file
      wal_level        = "replica"
      hot_standby      = "on"
      wal_log_hints    = "on" # pg_rewind, when the old primary rejoins as a standby
      # Initial value only: the failover agent owns it at run time (ALTER SYSTEM), derived from the commit
      # quorum recorded in the CP group: a commit waits for ANY one other site, the peer region or the
      # witness's WAL keeper (docs/decisions/0004-quorum-commit.md).
      synchronous_standby_names = var.role == "primary" ? "ANY 1 (\"${local.peer}\", \"${var.wal_keeper_name}\")" : ""
      # A standby that takes over fetches from the WAL keeper's service what it lacks (restore_command, set only
      # then, each fetch bounded: 3 s to connect, 20 s per file) and retries its sources this often.
      restore_command_on_takeover = "curl --fail --tlsv1.3 --connect-timeout 3 --max-time 20 --cacert <tls>/ca.crt --cert <tls>/server.crt --key <tls>/server.key --output %p ${var.wal_keeper_url}/wal/%f"
      wal_retrieve_retry_interval = "200ms"
      # A lost consumer's slot (the peer region, the WAL keeper) keeps at most this much WAL.
      max_slot_wal_keep_size = "4GB"
    }
    # A standby streams from the peer region's primary through a physical slot named after itself.
    replication = var.role == "standby" ? {
      upstream          = "${var.peer_postgres.host}:${var.peer_postgres.port}"
      primary_slot_name = var.region
      primary_conninfo  = "host=${var.peer_postgres.host} port=${var.peer_postgres.port} application_name=${var.region} sslmode=verify-full sslrootcert=${var.tls.ca_file} sslcert=${var.tls.postgres_cert_file} sslkey=${var.tls.postgres_key_file}"
      } : {
      upstream          = null
      primary_slot_name = null
      primary_conninfo  = null
    }
    # pg_hba: TLS with a client certificate from the deployment's CA, nothing else.
    hba = [
      { type = "hostssl", database = "ledger", source = local.node_component, method = "cert", reason = "the region's ledger node writes and reads" },
      { type = "hostssl", database = "ledger", source = local.peer_node, method = "cert", reason = "the peer region's failover agent probes, fences and promotes" },
      { type = "hostssl", database = "replication", source = local.peer_postgres, method = "cert", reason = "streaming replication and pg_rewind, in either direction after a failover" },
      { type = "hostssl", database = "replication", source = "witness", method = "cert", reason = "the WAL keeper (pg_receivewal --synchronous, slot ${var.wal_keeper_name}) and base backups (pg_basebackup)" },
    ]
  }

  node = {
    component = local.node_component
    region    = var.region
    host      = var.host
    identity  = local.identity.node
    grpc = {
      address = "${var.host}:${var.ports.node}"
      port    = var.ports.node
      tls     = "mtls"
    }
    database = {
      jdbc_url = "jdbc:postgresql://${var.host}:${var.ports.postgres}/ledger?sslmode=verify-full&sslrootcert=${var.tls.ca_file}"
      # The failover agent knows both regions' databases (probe, fence, promote, rewind).
      agent_databases = {
        (var.region) = "${var.host}:${var.ports.postgres}"
        (local.peer) = "${var.peer_postgres.host}:${var.peer_postgres.port}"
      }
    }
    hazelcast = {
      member              = var.region
      bind                = "${var.host}:${var.ports.hazelcast}"
      members             = [for m in var.cp_members : "${m.host}:${m.port}"]
      cp_member_count     = length(var.cp_members)
      session_ttl_seconds = var.cp_timing.session_ttl_seconds
      heartbeat_seconds   = var.cp_timing.heartbeat_seconds
      tls                 = "none (Hazelcast open source has neither TLS nor member authentication)"
    }
    failover = {
      leader_lease_ms = var.cp_timing.leader_lease_ms
      first_leader    = var.role == "primary"
    }
    tls = {
      ca_file   = var.tls.ca_file
      cert_file = var.tls.node_cert_file
      key_file  = var.tls.node_key_file
    }
  }

  router = local.has_router ? {
    component = local.router_component
    region    = var.region
    host      = var.host
    identity  = local.identity.router
    listen    = "${var.host}:${var.ports.router}"
    port      = var.ports.router
    upstreams = var.router_upstreams
    tls = {
      ca_file     = var.tls.ca_file
      cert_file   = var.tls.router_cert_file
      key_file    = var.tls.router_key_file
      client_auth = "required"
    }
  } : null

  # Who may reach which listener. Keys are listener names; allowed_sources are component names
  # (node-a, postgres-b, witness, router-a ...) or the caller-supplied merchant/operator sources.
  firewall_rules = merge(
    {
      (local.postgres_component) = {
        component       = local.postgres_component
        region          = var.region
        host            = var.host
        port            = var.ports.postgres
        protocol        = "tcp"
        transport       = "mtls"
        note            = "pg_hba: hostssl with method cert (client certificate from the deployment's CA) for exactly these sources"
        allowed_sources = [local.node_component, local.peer_node, local.peer_postgres, "witness"]
      }
      (local.node_component) = {
        component       = local.node_component
        region          = var.region
        host            = var.host
        port            = var.ports.node
        protocol        = "tcp"
        transport       = "mtls"
        note            = "gRPC: the routers forward merchants' calls; operators use NodeService (status, switchover)"
        allowed_sources = distinct(concat(var.router_components, var.operator_sources))
      }
      "hazelcast-${var.region}" = {
        component = local.node_component
        region    = var.region
        host      = var.host
        port      = var.ports.hazelcast
        protocol  = "tcp"
        transport = "plaintext"
        note      = "Hazelcast open source has no TLS and no member authentication: private network only, reachable from the two other CP members and nobody else"
        # Only the two OTHER CP members. Anyone else who reaches this port can join or disrupt the CP group.
        allowed_sources = [for m in local.other_members : m.component]
      }
    },
    local.has_router ? {
      (local.router_component) = {
        component       = local.router_component
        region          = var.region
        host            = var.host
        port            = var.ports.router
        protocol        = "tcp"
        transport       = "mtls"
        note            = "the merchants' front door: merchant certificates from the deployment's CA"
        allowed_sources = var.merchant_sources
      }
    } : {}
  )
}

resource "terraform_data" "postgres" {
  input = local.postgres

  lifecycle {
    precondition {
      condition     = local.peer != var.region
      error_message = "peer_postgres must be the other region's PostgreSQL, not region ${var.region}'s own."
    }
  }
}

resource "terraform_data" "node" {
  input = local.node

  lifecycle {
    precondition {
      condition     = length(local.own_member) == 1 && length(local.other_members) == 2
      error_message = "cp_members must contain this region's node (${local.node_component}) exactly once, plus the two other CP members."
    }
  }
}

resource "terraform_data" "router" {
  count = local.has_router ? 1 : 0
  input = local.router

  lifecycle {
    precondition {
      condition     = length(var.router_upstreams) == 2
      error_message = "A router forwards to both regions' nodes (it follows the leader); router_upstreams must list two."
    }
  }
}
