# The witness: the third Hazelcast CP member, so that either region plus the witness is a majority.
# It holds no data and serves nothing; it only votes. Described as data (see modules/region/main.tf).

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
  }

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
