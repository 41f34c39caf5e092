variable "name" {
  description = "CP member and component name of the witness."
  type        = string
  default     = "witness"
}

variable "host" {
  description = "Address the witness's Hazelcast member listens on (a third location, neither region)."
  type        = string
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
  description = "Where the witness runs (documentation; it must fail independently of both regions)."
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
