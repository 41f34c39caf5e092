# Plan-only: the local target's CLI calls. Nothing is started (provisioners run only on apply).

run "local_target_calls_the_cli_with_the_directory" {
  command = plan

  variables {
    deployment_dir = "/var/tmp/ledger-terraform-plan"
    ledger_cli     = "/opt/paymentledger/ledger"
  }

  assert {
    condition     = length(terraform_data.local_deployment) == 1
    error_message = "target = \"local\" (the default) must create the local deployment."
  }

  assert {
    condition     = terraform_data.local_deployment[0].input.dir == "/var/tmp/ledger-terraform-plan" && terraform_data.local_deployment[0].input.cli == "/opt/paymentledger/ledger"
    error_message = "The provisioners get the directory and CLI path."
  }

  assert {
    condition     = startswith(terraform_data.local_deployment[0].input.up_command, "\"$LEDGER_CLI\" site up a --config \"/var/tmp/ledger-terraform-plan/terraform/a-") && strcontains(terraform_data.local_deployment[0].input.up_command, " && \"$LEDGER_CLI\" site up router --config ")
    error_message = "Create applies every site's configuration with ledger site up, the primary's region first, the router last: ${terraform_data.local_deployment[0].input.up_command}."
  }

  assert {
    condition     = length(terraform_data.local_deployment[0].input.site_configs) == 4
    error_message = "Create writes four site configuration files (a, b, witness, router)."
  }

  assert {
    condition     = terraform_data.local_deployment[0].input.destroy_command == "\"$LEDGER_CLI\" destroy --dir \"$LEDGER_DIR\""
    error_message = "Destroy runs: ledger destroy --dir <dir>."
  }

  assert {
    condition     = toset(terraform_data.local_deployment[0].input.status_addresses) == toset(["127.0.0.1:7400", "127.0.0.1:7401", "127.0.0.1:7402", "127.0.0.1:7432", "127.0.0.1:7433", "127.0.0.1:7503"])
    error_message = "After up, the addresses ledger status reports are compared with the model."
  }

  assert {
    condition     = output.local_deployment.up == "/opt/paymentledger/ledger up --detach --dir /var/tmp/ledger-terraform-plan" && output.pki.dir == "/var/tmp/ledger-terraform-plan/pki"
    error_message = "Outputs: ${jsonencode(output.local_deployment)}, ${jsonencode(output.pki)}."
  }
}

run "local_target_defaults_to_the_checkouts_cli_and_ledger_dir" {
  command = plan

  assert {
    condition     = endswith(output.local_deployment.dir, "/.ledger") && endswith(output.local_deployment.cli, "/ledger") && dirname(output.local_deployment.dir) == dirname(output.local_deployment.cli)
    error_message = "By default the local target uses <checkout>/ledger and <checkout>/.ledger, like ./ledger up; got ${jsonencode(output.local_deployment)}."
  }
}

run "local_target_runs_any_layout_this_machine_can_hold" {
  command = plan

  variables {
    regions = [
      { name = "east", role = "primary", host = "127.0.0.1", postgres_port = 8432, node_port = 8401, hazelcast_port = 8501, router_port = 8400 },
      { name = "west", role = "standby", host = "127.0.0.1", postgres_port = 8433, node_port = 8402, hazelcast_port = 8502 },
    ]
    witness = { host = "127.0.0.1", hazelcast_port = 8503, wal_port = 8504 }
  }

  assert {
    condition     = strcontains(terraform_data.local_deployment[0].input.up_command, "site up east --config") && jsondecode(output.site_configs["east"].config).listeners == { postgres = 8432, node = 8401, hazelcast = 8501 }
    error_message = "Other names and ports reach the CLI through the sites' configuration (no fixed layout any more)."
  }

  assert {
    condition     = jsondecode(output.site_configs["witness"].config).listeners == { hazelcast = 8503, wal = 8504 } && jsondecode(output.site_configs["router"].config).listeners == { router = 8400 }
    error_message = "The witness's and the router's listeners are in their files."
  }
}

run "local_target_takes_the_cp_timing" {
  command = plan

  variables {
    cp_timing = { session_ttl_seconds = 5, heartbeat_seconds = 1, leader_lease_ms = 3000 }
  }

  assert {
    condition     = alltrue([for s, c in output.site_configs : jsondecode(c.config).cp == { sessionTtlSeconds = 5, heartbeatSeconds = 1, leaderLeaseMs = 3000 }])
    error_message = "Every site's file carries the CP timing the nodes and the witness run with."
  }
}

run "local_target_rejects_two_routers" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502, router_port = 7410 },
    ]
  }

  expect_failures = [terraform_data.local_deployment]
}

run "model_target_accepts_the_same_layout" {
  command = plan

  variables {
    target = "model"
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 8432, node_port = 8401, hazelcast_port = 8501, router_port = 8400 },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 8433, node_port = 8402, hazelcast_port = 8502 },
    ]
  }

  assert {
    condition     = output.router_addresses == { a = "127.0.0.1:8400" } && output.local_deployment == null
    error_message = "The model target describes any valid layout and runs nothing."
  }
}
