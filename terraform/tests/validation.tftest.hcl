# Plan-only: invalid inputs are rejected by the variables' validation blocks, each by the right variable.
# target = "model" so that only the variable under test can fail.

variables {
  target = "model"
}

run "lease_equal_to_ttl_minus_heartbeat_is_rejected" {
  command = plan

  variables {
    cp_timing = { session_ttl_seconds = 3, heartbeat_seconds = 1, leader_lease_ms = 2000 }
  }

  expect_failures = [var.cp_timing]
}

run "lease_longer_than_the_session_ttl_is_rejected" {
  command = plan

  variables {
    cp_timing = { session_ttl_seconds = 3, heartbeat_seconds = 1, leader_lease_ms = 4000 }
  }

  expect_failures = [var.cp_timing]
}

run "lease_just_below_ttl_minus_heartbeat_is_accepted" {
  command = plan

  variables {
    cp_timing = { session_ttl_seconds = 3, heartbeat_seconds = 1, leader_lease_ms = 1999 }
  }

  assert {
    condition     = output.failover_timing.leader_lease_ms == 1999
    error_message = "A lease of 1999 ms with TTL 3 s and heartbeat 1 s is valid."
  }
}

run "session_ttl_not_above_heartbeat_is_rejected" {
  command = plan

  variables {
    cp_timing = { session_ttl_seconds = 1, heartbeat_seconds = 1, leader_lease_ms = 100 }
  }

  expect_failures = [var.cp_timing]
}

run "fractional_heartbeat_is_rejected" {
  command = plan

  variables {
    cp_timing = { session_ttl_seconds = 3, heartbeat_seconds = 0.5, leader_lease_ms = 1500 }
  }

  expect_failures = [var.cp_timing]
}

run "duplicate_ports_on_one_host_are_rejected" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7401, hazelcast_port = 7502 },
    ]
  }

  expect_failures = [var.regions]
}

run "witness_port_taken_by_a_region_is_rejected" {
  command = plan

  variables {
    witness = { host = "127.0.0.1", hazelcast_port = 7501 }
  }

  expect_failures = [var.regions]
}

run "port_out_of_range_is_rejected" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 70000, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
    ]
  }

  expect_failures = [var.regions]
}

run "a_third_region_is_rejected" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
      { name = "c", role = "standby", host = "127.0.0.1", postgres_port = 7434, node_port = 7404, hazelcast_port = 7504 },
    ]
  }

  expect_failures = [var.regions]
}

run "a_single_region_is_rejected" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
    ]
  }

  expect_failures = [var.regions]
}

run "bad_region_names_are_rejected" {
  command = plan

  variables {
    regions = [
      { name = "A", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "witness", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
    ]
  }

  expect_failures = [var.regions]
}

run "duplicate_region_names_are_rejected" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "10.1.0.10", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "a", role = "standby", host = "10.2.0.10", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501 },
    ]
  }

  expect_failures = [var.regions]
}

run "two_primaries_are_rejected" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "b", role = "primary", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
    ]
  }

  expect_failures = [var.regions]
}

run "no_router_anywhere_is_rejected" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501 },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
    ]
  }

  expect_failures = [var.regions]
}

run "unknown_target_is_rejected" {
  command = plan

  variables {
    target = "aws"
  }

  expect_failures = [var.target]
}

run "bad_trust_domain_is_rejected" {
  command = plan

  variables {
    trust_domain = "Ledger Local"
  }

  expect_failures = [var.trust_domain]
}
