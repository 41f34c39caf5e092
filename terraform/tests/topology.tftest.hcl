# Plan-only: what the default (local) topology and a multi-host topology describe. Nothing is started.

run "default_topology_is_the_local_deployment" {
  command = plan

  assert {
    condition     = output.router_addresses == { a = "127.0.0.1:7400" }
    error_message = "The local deployment has one router, in region a, on 127.0.0.1:7400; got ${jsonencode(output.router_addresses)}."
  }

  assert {
    condition     = output.node_endpoints == { a = "127.0.0.1:7401", b = "127.0.0.1:7402" }
    error_message = "Node endpoints must be 127.0.0.1:7401 (a) and 127.0.0.1:7402 (b); got ${jsonencode(output.node_endpoints)}."
  }

  assert {
    condition = jsonencode(output.postgres_endpoints) == jsonencode({
      a = { address = "127.0.0.1:7432", role = "primary" }
      b = { address = "127.0.0.1:7433", role = "standby" }
    })
    error_message = "PostgreSQL a must be the primary on 7432 and b its standby on 7433; got ${jsonencode(output.postgres_endpoints)}."
  }

  assert {
    condition     = output.hazelcast_members == ["127.0.0.1:7501", "127.0.0.1:7502", "127.0.0.1:7503"]
    error_message = "The CP member list must be a, b, witness on 7501, 7502, 7503; got ${jsonencode(output.hazelcast_members)}."
  }

  assert {
    condition     = [for m in output.cp_members : m.component] == ["node-a", "node-b", "witness"]
    error_message = "The regions' CP members run inside their ledger nodes; the third is the witness."
  }

  assert {
    condition     = output.failover_timing.session_ttl_seconds == 3 && output.failover_timing.heartbeat_seconds == 1 && output.failover_timing.leader_lease_ms == 1500
    error_message = "Default failover timing is TTL 3 s, heartbeat 1 s, lease 1500 ms."
  }

  assert {
    condition     = output.pki.ca_file == "${output.pki.dir}/ca.crt" && endswith(output.pki.dir, "/.ledger/pki")
    error_message = "The PKI lives under <deployment dir>/pki; got ${jsonencode(output.pki)}."
  }
}

run "hazelcast_ports_admit_only_the_two_other_cp_members" {
  command = plan

  assert {
    condition     = toset(output.firewall_rules["hazelcast-a"].allowed_sources) == toset(["node-b", "witness"])
    error_message = "Region a's Hazelcast port must be reachable only from b's node and the witness; got ${jsonencode(output.firewall_rules["hazelcast-a"].allowed_sources)}."
  }

  assert {
    condition     = toset(output.firewall_rules["hazelcast-b"].allowed_sources) == toset(["node-a", "witness"])
    error_message = "Region b's Hazelcast port must be reachable only from a's node and the witness; got ${jsonencode(output.firewall_rules["hazelcast-b"].allowed_sources)}."
  }

  assert {
    condition     = toset(output.firewall_rules["hazelcast-witness"].allowed_sources) == toset(["node-a", "node-b"])
    error_message = "The witness's Hazelcast port must be reachable only from the two regions' nodes; got ${jsonencode(output.firewall_rules["hazelcast-witness"].allowed_sources)}."
  }

  assert {
    condition     = [for k in sort([for k, r in output.firewall_rules : k if startswith(k, "hazelcast-")]) : output.firewall_rules[k].port] == [7501, 7502, 7503]
    error_message = "Exactly three Hazelcast listeners (7501, 7502, 7503) are expected."
  }

  assert {
    condition     = alltrue([for k, r in output.firewall_rules : r.transport == "plaintext" && length(r.allowed_sources) == 2 && length(setintersection(toset(r.allowed_sources), toset(["merchants", "operators", "router-a", "router-b", "postgres-a", "postgres-b"]))) == 0 if startswith(k, "hazelcast-")])
    error_message = "No Hazelcast port may admit merchants, operators, routers or databases."
  }

  assert {
    condition     = alltrue([for k, r in output.firewall_rules : r.transport == "mtls" if !startswith(k, "hazelcast-")])
    error_message = "Every listener except Hazelcast's must be mutual TLS."
  }
}

run "other_listeners_admit_only_their_callers" {
  command = plan

  assert {
    condition     = sort(keys(output.firewall_rules)) == tolist(["hazelcast-a", "hazelcast-b", "hazelcast-witness", "node-a", "node-b", "postgres-a", "postgres-b", "router-a", "walkeeper-witness"])
    error_message = "Unexpected set of listeners: ${jsonencode(keys(output.firewall_rules))}."
  }

  assert {
    condition     = toset(output.firewall_rules["router-a"].allowed_sources) == toset(["merchants"]) && output.firewall_rules["router-a"].port == 7400
    error_message = "The router admits merchants on 7400."
  }

  assert {
    condition     = toset(output.firewall_rules["node-a"].allowed_sources) == toset(["router-a", "operators"]) && toset(output.firewall_rules["node-b"].allowed_sources) == toset(["router-a", "operators"])
    error_message = "A node admits the routers and operators only."
  }

  assert {
    condition     = toset(output.firewall_rules["postgres-a"].allowed_sources) == toset(["node-a", "node-b", "postgres-b", "witness"])
    error_message = "PostgreSQL a admits its node, the peer's failover agent, the peer database (replication) and the witness (WAL keeper, base backups) only; got ${jsonencode(output.firewall_rules["postgres-a"].allowed_sources)}."
  }

  assert {
    condition     = toset(output.firewall_rules["postgres-b"].allowed_sources) == toset(["node-a", "node-b", "postgres-a", "witness"])
    error_message = "PostgreSQL b admits its node, the peer's failover agent, the peer database (replication) and the witness (WAL keeper, base backups) only."
  }

  assert {
    condition     = toset(output.firewall_rules["walkeeper-witness"].allowed_sources) == toset(["postgres-a", "postgres-b"]) && output.firewall_rules["walkeeper-witness"].port == 7504 && output.firewall_rules["walkeeper-witness"].transport == "mtls"
    error_message = "The WAL keeper's service admits the regions' PostgreSQL only, on 7504, mutual TLS; got ${jsonencode(output.firewall_rules["walkeeper-witness"])}."
  }
}

run "multi_host_deployment_with_a_router_per_region" {
  command = plan

  variables {
    target = "model"
    regions = [
      { name = "eu", role = "primary", host = "10.1.0.10", postgres_port = 5432, node_port = 7401, hazelcast_port = 5701, router_port = 443 },
      { name = "us", role = "standby", host = "10.2.0.10", postgres_port = 5432, node_port = 7401, hazelcast_port = 5701, router_port = 443 },
    ]
    witness          = { host = "10.3.0.10", hazelcast_port = 5701, location = "third cloud region" }
    merchant_sources = ["0.0.0.0/0"]
    operator_sources = ["10.0.0.0/8"]
    pki_dir          = "/etc/ledger/pki"
  }

  assert {
    condition     = output.router_addresses == { eu = "10.1.0.10:443", us = "10.2.0.10:443" }
    error_message = "Each region's router must be listed; got ${jsonencode(output.router_addresses)}."
  }

  assert {
    condition     = output.hazelcast_members == ["10.1.0.10:5701", "10.2.0.10:5701", "10.3.0.10:5701"]
    error_message = "CP members: ${jsonencode(output.hazelcast_members)}."
  }

  assert {
    condition     = toset(output.firewall_rules["hazelcast-eu"].allowed_sources) == toset(["node-us", "witness"])
    error_message = "Hazelcast of eu must admit only node-us and the witness."
  }

  assert {
    condition     = toset(output.firewall_rules["node-us"].allowed_sources) == toset(["router-eu", "router-us", "10.0.0.0/8"])
    error_message = "A node admits every region's router and the operators; got ${jsonencode(output.firewall_rules["node-us"].allowed_sources)}."
  }

  assert {
    condition     = toset(output.firewall_rules["router-us"].allowed_sources) == toset(["0.0.0.0/0"])
    error_message = "Routers admit the merchant sources."
  }

  assert {
    condition     = length(terraform_data.local_deployment) == 0 && output.local_deployment == null
    error_message = "target = \"model\" must not run the local CLI."
  }

  assert {
    condition     = module.region["us"].components.postgres.replication.upstream == "10.1.0.10:5432" && module.region["us"].components.postgres.replication.primary_slot_name == "us"
    error_message = "The standby streams from the primary region's PostgreSQL through its own slot."
  }

  assert {
    condition     = module.region["eu"].components.postgres.settings.synchronous_standby_names == "ANY 1 (\"us\", \"walkeeper\")" && module.region["eu"].components.postgres.replication.upstream == null
    error_message = "The primary's commits wait for any one of the standby region and the WAL keeper, and it streams from nobody."
  }

  assert {
    condition     = module.region["eu"].components.node.tls.cert_file == "/etc/ledger/pki/node-eu.crt" && module.region["eu"].components.router.tls.ca_file == "/etc/ledger/pki/ca.crt"
    error_message = "TLS files come from the PKI directory, one pair per component."
  }

  assert {
    condition     = module.region["us"].components.node.hazelcast.members == output.hazelcast_members && module.region["us"].components.node.failover.leader_lease_ms == 1500
    error_message = "Every node gets the full CP member list and the lease."
  }
}

run "the_witness_keeps_the_leaders_wal" {
  command = plan

  variables {
    target = "model"
  }

  assert {
    condition     = output.wal_keeper.application_name == "walkeeper" && output.wal_keeper.slot == "walkeeper" && startswith(output.wal_keeper.program, "pg_receivewal --synchronous")
    error_message = "The WAL keeper is pg_receivewal --synchronous on slot walkeeper (the name the commit quorum waits for)."
  }

  assert {
    condition     = length(output.wal_keeper.sources) == 2 && output.wal_keeper.sources["a"] == "127.0.0.1:7432" && output.wal_keeper.sources["b"] == "127.0.0.1:7433" && endswith(output.wal_keeper.tls.cert_file, "/walkeeper.crt")
    error_message = "The keeper follows both regions' PostgreSQL with its own client certificate; got ${jsonencode(output.wal_keeper)}."
  }

  assert {
    condition     = output.wal_keeper.base_backups.kept == 2 && output.wal_keeper.base_backups.interval_hours == 6
    error_message = "Base backups every 6 h, the newest 2 kept."
  }
}
