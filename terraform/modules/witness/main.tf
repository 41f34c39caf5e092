# The witness: the third Hazelcast CP member, so that either region plus the witness is a majority, and the
# WAL keeper: pg_receivewal --synchronous following the leading region's PostgreSQL as one site of its commit
# quorum (ANY 1 of the peer region and the keeper), plus base backups of the leader with a bounded retention.
# It holds WAL and base backups, no live tables, and serves no API. Described as data (see modules/region/main.tf).

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

  # The keeper and pg_basebackup connect out to the regions' PostgreSQL (their rules admit "witness");
  # nothing connects to the keeper.
  firewall_rules = {
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
