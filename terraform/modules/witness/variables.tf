variable "name" {
  description = "CP member and component name of the witness."
  type        = string
  default     = "witness"
}

variable "host" {
  description = "Address the witness's Hazelcast member listens on (a third location, neither region)."
  type        = string
}

variable "wal_port" {
  description = "Port of the WAL keeper's WAL service (HTTPS, mutual TLS): a region's PostgreSQL fetches what it lacks from it before a promotion."
  type        = number
  default     = 7504

  validation {
    condition     = var.wal_port >= 1 && var.wal_port <= 65535 && floor(var.wal_port) == var.wal_port
    error_message = "wal_port must be an integer between 1 and 65535."
  }
}

variable "hazelcast_port" {
  description = "The witness's Hazelcast port."
  type        = number

  validation {
    condition     = var.hazelcast_port >= 1 && var.hazelcast_port <= 65535 && floor(var.hazelcast_port) == var.hazelcast_port
    error_message = "hazelcast_port must be an integer between 1 and 65535."
  }
}

variable "location" {
  description = "Where the witness runs (it must fail independently of both regions: it holds the WAL that survives them)."
  type        = string
}

variable "cp_members" {
  description = "All three Hazelcast CP members: name, the component that runs it, host and port."
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
}

variable "trust_domain" {
  description = "SPIFFE trust domain of the deployment's PKI."
  type        = string
}

variable "tls" {
  description = "The WAL keeper's TLS client identity: the deployment's CA and the keeper's certificate and key."
  type = object({
    ca_file   = string
    cert_file = string
    key_file  = string
  })
}

variable "postgres_endpoints" {
  description = "Every region's PostgreSQL (region name => host:port): the WAL keeper follows whichever leads."
  type        = map(string)

  validation {
    condition     = length(var.postgres_endpoints) == 2
    error_message = "The WAL keeper follows exactly the two regions' PostgreSQL servers."
  }
}

variable "wal_keeper_name" {
  description = "The WAL keeper's application_name and replication slot."
  type        = string
  default     = "walkeeper"
}

variable "base_backup_interval_hours" {
  description = "A base backup of the leader is taken this often (and at once when there is none)."
  type        = number
  default     = 6

  validation {
    condition     = var.base_backup_interval_hours >= 1
    error_message = "base_backup_interval_hours must be at least 1."
  }
}

variable "base_backups_kept" {
  description = "Complete base backups kept; older ones (and the WAL only they needed) are deleted."
  type        = number
  default     = 2

  validation {
    condition     = var.base_backups_kept >= 1 && floor(var.base_backups_kept) == var.base_backups_kept
    error_message = "base_backups_kept must be a whole number, at least 1."
  }
}
