output "hazelcast_member" {
  description = "host:port of the witness's Hazelcast CP member."
  value       = local.witness.hazelcast.bind
}

output "firewall_rules" {
  description = "Inbound rules of the witness, keyed by listener name."
  value       = local.firewall_rules
}

output "config" {
  description = "The witness's configuration, as recorded in its terraform_data resource."
  value       = local.witness
}

output "wal_keeper" {
  description = "The WAL keeper's configuration: pg_receivewal, its TLS identity, the sources it follows, base backups."
  value       = local.witness.wal_keeper
}
