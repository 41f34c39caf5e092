variable "region" {
  description = "Region name (also the name of its CP member, its replication slot and its synchronous standby name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$", var.region)) && var.region != "witness"
    error_message = "region must be 1-16 characters of a-z, 0-9 and '-', start with a letter, and not be \"witness\"."
  }
}

variable "role" {
  description = "\"primary\": PostgreSQL primary and first leader; \"standby\": synchronous streaming standby of the peer region."
  type        = string

  validation {
    condition     = contains(["primary", "standby"], var.role)
    error_message = "role must be \"primary\" or \"standby\"."
  }
}

variable "host" {
  description = "Address the region's components listen on (its private network interface; 127.0.0.1 locally)."
  type        = string
}

variable "ports" {
  description = "The region's listeners. router = null: no router in this region."
  type = object({
    postgres  = number
    node      = number
    hazelcast = number
    router    = optional(number)
  })

  validation {
    condition     = alltrue([for p in [var.ports.postgres, var.ports.node, var.ports.hazelcast, var.ports.router] : p >= 1 && p <= 65535 && floor(p) == p if p != null])
    error_message = "Every port must be an integer between 1 and 65535."
  }

  validation {
    condition = length(distinct([for p in [var.ports.postgres, var.ports.node, var.ports.hazelcast, var.ports.router] : p if p != null])) == length(
    [for p in [var.ports.postgres, var.ports.node, var.ports.hazelcast, var.ports.router] : p if p != null])
    error_message = "The region's ports must be distinct."
  }
}

variable "peer_postgres" {
  description = "The other region's PostgreSQL: what a standby streams from, what a primary waits for synchronously."
  type = object({
    region = string
    host   = string
    port   = number
  })

  validation {
    condition     = var.peer_postgres.port >= 1 && var.peer_postgres.port <= 65535
    error_message = "peer_postgres.port must be between 1 and 65535."
  }
}

variable "cp_members" {
  description = "All three Hazelcast CP members (both regions' nodes and the witness): name, the component that runs it, host and port."
  type = list(object({
    name      = string
    component = string
    host      = string
    port      = number
  }))

  validation {
    condition     = length(var.cp_members) == 3 && length(distinct([for m in var.cp_members : m.name])) == 3
    error_message = "The CP group has exactly three distinct members (two regions and the witness)."
  }
}

variable "cp_timing" {
  description = "CP session TTL and heartbeat (seconds) and the leader lease (milliseconds); validated in the root module."
  type = object({
    session_ttl_seconds = number
    heartbeat_seconds   = number
    leader_lease_ms     = number
  })

  validation {
    condition     = var.cp_timing.leader_lease_ms < (var.cp_timing.session_ttl_seconds - var.cp_timing.heartbeat_seconds) * 1000
    error_message = "leader_lease_ms must be less than (session_ttl_seconds - heartbeat_seconds) * 1000."
  }
}

variable "router_upstreams" {
  description = "The ledger nodes a router in this region forwards to (every region's node; the router follows the leader)."
  type = list(object({
    region  = string
    address = string
  }))
}

variable "router_components" {
  description = "Component names of every region router of the deployment (they may reach this region's node)."
  type        = list(string)
}

variable "tls" {
  description = "PEM files from the deployment's PKI: the CA and one certificate/key pair per component of this region."
  type = object({
    ca_file            = string
    node_cert_file     = string
    node_key_file      = string
    router_cert_file   = string
    router_key_file    = string
    postgres_cert_file = string
    postgres_key_file  = string
  })

  validation {
    condition     = alltrue([for k, f in var.tls : endswith(f, k == "ca_file" || endswith(k, "_cert_file") ? ".crt" : ".key")])
    error_message = "Certificate and CA files must end in .crt, key files in .key (the PKI's layout)."
  }
}

variable "trust_domain" {
  description = "SPIFFE trust domain of the certificates (identities spiffe://<trust_domain>/...)."
  type        = string
}

variable "merchant_sources" {
  description = "Who may reach the router."
  type        = list(string)
}

variable "operator_sources" {
  description = "Who may reach the node's gRPC port directly."
  type        = list(string)
}

variable "wal_keeper_url" {
  description = "The WAL keeper's WAL service (https://witness-host:port): a standby that takes over fetches what it lacks from it."
  type        = string
}

variable "wal_keeper_name" {
  description = "The WAL keeper's application_name and replication slot (the witness's pg_receivewal)."
  type        = string
  default     = "walkeeper"
}
