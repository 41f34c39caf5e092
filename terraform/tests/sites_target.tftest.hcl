# Plan-only: the sites target, one resource per site, each with its own configuration file.

run "sites_default" {
  command = plan

  variables {
    target         = "sites"
    deployment_dir = "/var/tmp/ledger-terraform-sites"
    ledger_cli     = "/opt/paymentledger/ledger"
  }

  assert {
    condition     = toset(keys(terraform_data.site)) == toset(["a", "b", "witness", "router"]) && length(terraform_data.local_deployment) == 0
    error_message = "target = \"sites\": region a, region b, the witness and the router are four resources (and no whole-deployment one)."
  }

  assert {
    condition     = terraform_data.site["a"].input.site == "a" && terraform_data.site["a"].input.cli == "/opt/paymentledger/ledger" && startswith(terraform_data.site["a"].input.file, "/var/tmp/ledger-terraform-sites/terraform/a-")
    error_message = "Each site's resource runs the CLI with its own file under <dir>/terraform: ${jsonencode(terraform_data.site["a"].input)}."
  }

  assert {
    condition = jsondecode(terraform_data.site["a"].input.config) == {
      format      = 1, site = "a", kind = "region", role = "primary", dir = "/var/tmp/ledger-terraform-sites", layout = "loopback"
      trustDomain = "ledger.local", listeners = { postgres = 7432, node = 7401, hazelcast = 7501 }, postgres = {}
      cp          = { sessionTtlSeconds = 3, heartbeatSeconds = 1, leaderLeaseMs = 1500 }
      tls         = { caFile = "/var/tmp/ledger-terraform-sites/pki/ca.crt", certFile = "/var/tmp/ledger-terraform-sites/pki/node-a.crt", keyFile = "/var/tmp/ledger-terraform-sites/pki/node-a.key" }
      peers = {
        b       = { kind = "region", role = "standby", listeners = { postgres = 7433, node = 7402, hazelcast = 7502 } }
        witness = { kind = "witness", role = "", listeners = { hazelcast = 7503, wal = 7504 } }
        router  = { kind = "router", role = "", listeners = { router = 7400 } }
      }
    }
    error_message = "Region a's file: its listeners, role, PostgreSQL settings, CP timing, TLS files and its peers' listeners; got ${terraform_data.site["a"].input.config}."
  }

  assert {
    condition     = jsondecode(terraform_data.site["witness"].input.config).tls.certFile == "/var/tmp/ledger-terraform-sites/pki/walkeeper.crt" && jsondecode(terraform_data.site["router"].input.config).tls.certFile == "/var/tmp/ledger-terraform-sites/pki/router.crt"
    error_message = "The witness runs with the WAL keeper's certificate, the router with its own."
  }
}

run "one_regions_postgres_setting_changes_only_that_regions_resource" {
  command = plan

  variables {
    target         = "sites"
    deployment_dir = "/var/tmp/ledger-terraform-sites"
    ledger_cli     = "/opt/paymentledger/ledger"
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400, postgres = { work_mem = "8MB" } },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
    ]
  }

  assert {
    condition     = jsondecode(terraform_data.site["a"].input.config).postgres == { work_mem = "8MB" } && output.site_configs["a"] != run.sites_default.site_configs["a"]
    error_message = "Region a's file carries its new setting (and so its resource is replaced: triggers_replace is the file)."
  }

  assert {
    condition     = output.site_configs["b"] == run.sites_default.site_configs["b"] && output.site_configs["witness"] == run.sites_default.site_configs["witness"] && output.site_configs["router"] == run.sites_default.site_configs["router"]
    error_message = "Region b's, the witness's and the router's files are unchanged: terraform plan shows region a alone."
  }
}

run "sites_need_distinct_ports_also_in_network_namespaces" {
  # The CLI finds a listener's site by its port (ledger-cli Topology.hostOfPort): ports stay distinct.
  command = plan

  variables {
    target       = "sites"
    sites_layout = "netns"
    regions = [
      { name = "a", role = "primary", host = "10.0.1.10", postgres_port = 5432, node_port = 7401, hazelcast_port = 5701, router_port = 7400 },
      { name = "b", role = "standby", host = "10.0.2.10", postgres_port = 5432, node_port = 7401, hazelcast_port = 5701 },
    ]
    witness = { host = "10.0.3.10", hazelcast_port = 5702, wal_port = 7504 }
  }

  expect_failures = [terraform_data.site]
}

run "sites_netns_layout_with_distinct_ports" {
  command = plan

  variables {
    target       = "sites"
    sites_layout = "netns"
    regions = [
      { name = "a", role = "primary", host = "10.0.1.10", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "b", role = "standby", host = "10.0.2.10", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
    ]
  }

  assert {
    condition     = alltrue([for s, c in output.site_configs : jsondecode(c.config).layout == "netns"])
    error_message = "With sites_layout = \"netns\" every site's file asks the CLI for a network namespace of its own."
  }
}

run "sites_on_loopback_need_127_0_0_1" {
  command = plan

  variables {
    target = "sites"
    regions = [
      { name = "a", role = "primary", host = "10.0.1.10", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400 },
      { name = "b", role = "standby", host = "10.0.2.10", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
    ]
  }

  expect_failures = [terraform_data.site]
}

run "a_region_may_not_override_the_toolings_postgres_settings" {
  command = plan

  variables {
    target = "sites"
    regions = [
      { name = "a", role = "primary", host = "127.0.0.1", postgres_port = 7432, node_port = 7401, hazelcast_port = 7501, router_port = 7400, postgres = { synchronous_standby_names = "" } },
      { name = "b", role = "standby", host = "127.0.0.1", postgres_port = 7433, node_port = 7402, hazelcast_port = 7502 },
    ]
  }

  expect_failures = [var.regions]
}
