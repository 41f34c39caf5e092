# The witness: the third Hazelcast CP member, so that either region plus the witness is a majority, and the
# WAL keeper: pg_receivewal --synchronous following the leading region's PostgreSQL as one site of its commit
# quorum (ANY 1 of the peer region and the keeper), plus base backups of the leader with a bounded retention.
# It holds WAL and base backups, no live tables; it serves only its WAL, to the regions' PostgreSQL (restore_command
# before a promotion). Described as data (see modules/region/main.tf).

locals {
  other_members = [for m in var.cp_members : m if m.component != var.name]

  witness = {
    component = var.name
    location  = var.location
    host      = var.host
    hazelcast = {
      member              = var.name
      bind                = "${var.host}:${var.hazelcast_port}"
      members             = [for m in var.cp_members : "${m.host}:${m.port}"]
      cp_member_count     = length(var.cp_members)
      session_ttl_seconds = var.cp_timing.session_ttl_seconds
      heartbeat_seconds   = var.cp_timing.heartbeat_seconds
      tls                 = "none (Hazelcast open source has neither TLS nor member authentication)"
    }
    wal_service = {
      listen  = "https://${var.host}:${var.wal_port}"
      serves  = "GET /wal/<segment or NNNNNNNN.history>: a kept WAL file (the unfinished segment as its .partial)"
      clients = "a region's PostgreSQL (its restore_command, with its server certificate) or the operator; mutual TLS 1.3"
    }
    wal_keeper = {
      program          = "pg_receivewal --synchronous --no-loop --slot ${var.wal_keeper_name} (restarted by the witness, re-pointed at the recorded leader, fenced during a takeover)"
      application_name = var.wal_keeper_name
      slot             = var.wal_keeper_name
      identity         = "spiffe://${var.trust_domain}/region/witness/witness"
      tls = {
        ca_file   = var.tls.ca_file
        cert_file = var.tls.cert_file
        key_file  = var.tls.key_file
        mode      = "verify-full, client certificate + scram password"
      }
      # Every region's PostgreSQL: it follows whichever one leads.
      sources = var.postgres_endpoints
      base_backups = {
        program        = "pg_basebackup -X stream -c fast"
        interval_hours = var.base_backup_interval_hours
        kept           = var.base_backups_kept
        wal_retention  = "pg_archivecleanup: WAL older than the oldest kept backup is removed"
      }
    }
  }

  # The keeper and pg_basebackup connect out to the regions' PostgreSQL (their rules admit "witness"); the
  # regions' PostgreSQL connect to the keeper's WAL service (restore_command, only while a takeover fetches).
  firewall_rules = {
    "walkeeper-${var.name}" = {
      component       = var.name
      region          = null
      host            = var.host
      port            = var.wal_port
      protocol        = "tcp"
      transport       = "mtls"
      note            = "HTTPS, GET /wal/<file>: answers only certificates of a region's PostgreSQL (spiffe://<td>/region/<r>/postgres) or the operator"
      allowed_sources = [for m in local.other_members : replace(m.component, "node-", "postgres-")]
    }
    "hazelcast-${var.name}" = {
      component = var.name
      region    = null
      host      = var.host
      port      = var.hazelcast_port
      protocol  = "tcp"
      transport = "plaintext"
      note      = "Hazelcast open source has no TLS and no member authentication: private network only, reachable from the two regions' nodes and nobody else"
      # Only the two regions' nodes.
      allowed_sources = [for m in local.other_members : m.component]
    }
  }
}

resource "terraform_data" "witness" {
  input = local.witness

  lifecycle {
    precondition {
      condition     = length([for m in var.cp_members : m if m.component == var.name]) == 1 && length(local.other_members) == 2
      error_message = "cp_members must contain the witness (${var.name}) exactly once, plus the two regions' nodes."
    }
  }
}
