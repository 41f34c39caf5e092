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
    condition     = terraform_data.local_deployment[0].input.up_command == "\"$LEDGER_CLI\" up --detach --dir \"$LEDGER_DIR\""
    error_message = "Create runs: ledger up --detach --dir <dir>."
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

run "local_target_rejects_a_layout_the_cli_cannot_build" {
  command = plan

  variables {
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 8432, node_port = 8401, hazelcast_port = 8501, router_port = 8400 },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 8433, node_port = 8402, hazelcast_port = 8502 },
    ]
  }

  expect_failures = [terraform_data.local_deployment]
}

run "local_target_rejects_timing_the_cli_does_not_use" {
  command = plan

  variables {
    cp_timing = { session_ttl_seconds = 5, heartbeat_seconds = 1, leader_lease_ms = 3000 }
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
