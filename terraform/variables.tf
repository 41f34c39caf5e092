variable "target" {
  description = <<-EOT
    "local": the whole topology on this machine in one resource (`ledger up --detach` on create, `ledger destroy`
    on destroy), with the layout these variables describe.
    "sites": each site (region a, region b, the witness, the router) a resource of its own, applied with
    `ledger site up <site> --config <file rendered here>` and removed with `ledger site down --purge`: a changed
    site is rolled (a leading region hands over first), a destroyed region is a planned removal.
    "model": only describe the components, their configuration and network rules (no side effects);
    the starting point for a real multi-region deployment.
  EOT
  type        = string
  default     = "local"

  validation {
    condition     = contains(["local", "sites", "model"], var.target)
    error_message = "target must be \"local\", \"sites\" or \"model\"."
  }
}

variable "sites_layout" {
  description = <<-EOT
    Where the sites live on this machine (targets local and sites): "loopback" (every listener on 127.0.0.1)
    or "netns" (each site a network namespace of its own, its own address: needs root; the CLI chooses the
    addresses, the regions' host is then not used).
  EOT
  type        = string
  default     = "loopback"

  validation {
    condition     = contains(["loopback", "netns"], var.sites_layout)
    error_message = "sites_layout must be \"loopback\" or \"netns\"."
  }
}

variable "deployment_dir" {
  description = "Directory of the local deployment (ledger --dir). Default: .ledger in the checkout, the CLI's own default."
  type        = string
  default     = null

  validation {
    condition     = var.deployment_dir == null ? true : length(trimspace(var.deployment_dir)) > 0
    error_message = "deployment_dir must not be empty (leave it unset for <checkout>/.ledger)."
  }
}

variable "ledger_cli" {
  description = "Path of the ledger operator CLI. Default: the ./ledger script at the root of the checkout."
  type        = string
  default     = null
}

variable "pki_dir" {
  description = "Directory of the deployment's PKI (ca.crt and one <component>.crt/.key per service). Default: <deployment_dir>/pki."
  type        = string
  default     = null
}

variable "trust_domain" {
  description = "SPIFFE trust domain of the deployment's certificates."
  type        = string
  default     = "ledger.local"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9._-]{0,249}$", var.trust_domain))
    error_message = "trust_domain must be lower-case letters, digits, '.', '-', '_' (the PKI's rule), such as ledger.local."
  }
}

variable "regions" {
  description = <<-EOT
    Exactly two regions, active-passive: one "primary" (PostgreSQL primary, first leader) and one "standby"
    (PostgreSQL synchronous streaming standby). Each runs one PostgreSQL server, one ledger node (which
    embeds the region's Hazelcast CP member and failover agent) and optionally a region router
    (router_port = null: no router in that region; the local deployment runs a single router), and its own
    PostgreSQL settings (postgres; the tooling's own, such as listen_addresses or synchronous_standby_names,
    cannot be overridden).
  EOT
  type = list(object({
    name           = string
    role           = string
    host           = string
    postgres_port  = number
    node_port      = number
    hazelcast_port = number
    router_port    = optional(number)
    # The region's own PostgreSQL settings (postgresql.conf): changing one rolls that region alone.
    postgres = optional(map(string), {})
  }))
  default = [
    { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
    { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
  ]

  validation {
    condition     = length(var.regions) == 2
    error_message = "Exactly two regions (active-passive) are required; the third CP member is the witness (var.witness), not a region."
  }

  validation {
    condition     = alltrue([for r in var.regions : can(regex("^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$", r.name)) && r.name != "witness"])
    error_message = "Region names must be 1-16 characters of a-z, 0-9 and '-', start with a letter, not end with '-', and not be \"witness\"."
  }

  validation {
    condition     = length(distinct([for r in var.regions : r.name])) == length(var.regions)
    error_message = "Region names must be distinct."
  }

  validation {
    condition = (
      length([for r in var.regions : r if r.role == "primary"]) == 1 &&
      length([for r in var.regions : r if r.role == "standby"]) == length(var.regions) - 1
    )
    error_message = "Exactly one region has role \"primary\" and the other \"standby\"."
  }

  validation {
    condition     = alltrue([for r in var.regions : length(trimspace(r.host)) > 0])
    error_message = "Every region needs a host (address of its private network interface)."
  }

  validation {
    condition = alltrue(flatten([for r in var.regions : [
      for p in [r.postgres_port, r.node_port, r.hazelcast_port, r.router_port] : p >= 1 && p <= 65535 && floor(p) == p if p != null
    ]]))
    error_message = "Every port must be an integer between 1 and 65535."
  }

  # Every listener (PostgreSQL, node, Hazelcast and router of both regions, the witness's Hazelcast)
  # needs its own host:port. On one machine (the local target) that means eight distinct ports.
  validation {
    condition = length(distinct(concat(
      flatten([for r in var.regions : [for p in [r.postgres_port, r.node_port, r.hazelcast_port, r.router_port] : "${r.host}:${p}" if p != null]]),
      ["${var.witness.host}:${var.witness.hazelcast_port}"],
      ))) == 1 + length(flatten([for r in var.regions : [
        for p in [r.postgres_port, r.node_port, r.hazelcast_port, r.router_port] : p if p != null
    ]]))
    error_message = "Ports must be distinct per host: no two listeners (postgres, node, hazelcast, router of either region, the witness's hazelcast) may share a host:port."
  }

  # The tooling owns these (addresses, replication, TLS); ledger-cli SiteConfig.OWNED_SETTINGS is the same list.
  validation {
    condition = alltrue([for r in var.regions : alltrue([for k in keys(r.postgres) : !contains([
      "listen_addresses", "port", "wal_level", "hot_standby", "ssl", "ssl_cert_file", "ssl_key_file", "ssl_ca_file",
      "primary_conninfo", "primary_slot_name", "synchronous_standby_names", "restore_command", "wal_log_hints",
      "include_if_exists", "data_directory", "hba_file"
    ], k)])])
    error_message = "A region's postgres settings may not override what the tooling sets (listen_addresses, port, wal_level, hot_standby, ssl*, primary_conninfo, primary_slot_name, synchronous_standby_names, restore_command, wal_log_hints, include_if_exists, data_directory, hba_file)."
  }

  validation {
    condition     = length([for r in var.regions : r if r.router_port != null]) >= 1
    error_message = "At least one region must run a region router (router_port), or merchants cannot reach the ledger."
  }
}

variable "witness" {
  description = "The third Hazelcast CP member, in a third location (neither region). It holds no data and only votes."
  type = object({
    host           = string
    hazelcast_port = number
    wal_port       = optional(number, 7504)
    location       = optional(string, "third location (local: loopback)")
  })
  default = {
    host           = "127.0.0.1"
    hazelcast_port = 7503
  }

  validation {
    condition     = length(trimspace(var.witness.host)) > 0
    error_message = "The witness needs a host."
  }

  validation {
    condition     = var.witness.hazelcast_port >= 1 && var.witness.hazelcast_port <= 65535 && floor(var.witness.hazelcast_port) == var.witness.hazelcast_port
    error_message = "The witness's hazelcast_port must be an integer between 1 and 65535."
  }

  validation {
    condition     = var.witness.wal_port >= 1 && var.witness.wal_port <= 65535 && floor(var.witness.wal_port) == var.witness.wal_port && var.witness.wal_port != var.witness.hazelcast_port
    error_message = "The witness's wal_port must be an integer between 1 and 65535, other than its hazelcast_port."
  }
}

variable "cp_timing" {
  description = <<-EOT
    Failover timing of the Hazelcast CP subsystem. The session TTL bounds how long a dead leader keeps the
    leader lock (detection time); members send a session heartbeat every heartbeat_seconds; a leader serves
    at most leader_lease_ms after its last successful CP check. The lease must be shorter than
    TTL - heartbeat, so a cut-off leader has stopped serving before the majority can expire its session and
    elect another (invariant 4, one writer).
  EOT
  type = object({
    session_ttl_seconds = number
    heartbeat_seconds   = number
    leader_lease_ms     = number
  })
  default = {
    session_ttl_seconds = 3
    heartbeat_seconds   = 1
    leader_lease_ms     = 1500
  }

  validation {
    condition     = var.cp_timing.heartbeat_seconds >= 1 && floor(var.cp_timing.heartbeat_seconds) == var.cp_timing.heartbeat_seconds && floor(var.cp_timing.session_ttl_seconds) == var.cp_timing.session_ttl_seconds
    error_message = "heartbeat_seconds and session_ttl_seconds must be whole seconds (Hazelcast configures them in seconds), heartbeat at least 1."
  }

  validation {
    condition     = var.cp_timing.session_ttl_seconds > var.cp_timing.heartbeat_seconds
    error_message = "session_ttl_seconds must be greater than heartbeat_seconds, or sessions expire between heartbeats."
  }

  validation {
    condition     = var.cp_timing.leader_lease_ms > 0 && var.cp_timing.leader_lease_ms < (var.cp_timing.session_ttl_seconds - var.cp_timing.heartbeat_seconds) * 1000
    error_message = "leader_lease_ms must be positive and less than (session_ttl_seconds - heartbeat_seconds) * 1000, so a cut-off leader stops serving before another region can take over."
  }
}

variable "merchant_sources" {
  description = "Who may reach the region routers (mTLS with merchant certificates): source labels, security groups or CIDRs."
  type        = list(string)
  default     = ["merchants"]

  validation {
    condition     = length(var.merchant_sources) > 0 && alltrue([for s in var.merchant_sources : length(trimspace(s)) > 0])
    error_message = "merchant_sources must name at least one non-empty source."
  }
}

variable "operator_sources" {
  description = "Who may reach the ledger nodes' gRPC ports directly (NodeService, status, switchover; mTLS with operator certificates)."
  type        = list(string)
  default     = ["operators"]

  validation {
    condition     = length(var.operator_sources) > 0 && alltrue([for s in var.operator_sources : length(trimspace(s)) > 0])
    error_message = "operator_sources must name at least one non-empty source."
  }
}
