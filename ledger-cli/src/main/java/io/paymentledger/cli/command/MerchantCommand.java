package io.paymentledger.cli.command;

import io.paymentledger.api.v1.CreateApiKeyRequest;
import io.paymentledger.api.v1.ListApiKeysRequest;
import io.paymentledger.api.v1.NodeServiceGrpcClient;
import io.paymentledger.api.v1.RevokeApiKeyRequest;
import io.paymentledger.cli.deploy.Clients;
import io.paymentledger.cli.deploy.DeploymentSecurity;
import io.paymentledger.cli.deploy.LocalDeployment;
import io.paymentledger.cli.deploy.Topology;
import io.paymentledger.security.identity.Principal;
import io.paymentledger.security.logging.LogSetup;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "merchant", description = "Merchant identities: certificates and API keys.",
        subcommands = {MerchantCommand.Create.class, MerchantCommand.Keys.class, MerchantCommand.RevokeKey.class,
                MerchantCommand.RevokeCert.class})
public final class MerchantCommand implements Runnable {

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    static NodeServiceGrpcClient leader(LocalDeployment d, Clients clients) {
        var leader = d.awaitLeader(Duration.ofSeconds(30));
        return NodeServiceGrpcClient.create(clients.grpc(), clients.address(d.topology().region(leader.getRegion()).grpcPort()));
    }

    @Command(name = "create", description = "Issue a client certificate for a merchant (and, with --api-key, an API key).")
    public static final class Create implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "The merchant id (the owner of its accounts).")
        String merchantId;

        @Option(names = "--api-key", description = "Also create an API key (shown once).")
        boolean apiKey;

        @Override
        public Integer call() throws Exception {
            LogSetup.install("ledger-merchant", Level.WARNING);
            Principal.requireMerchantId(merchantId);
            Topology t = Topology.load(deployment.dir());
            DeploymentSecurity s = DeploymentSecurity.open(t);
            var cert = s.merchant(merchantId);
            System.out.println("merchant " + merchantId + ": certificate " + cert.certFile() + ", key " + cert.keyFile()
                    + " (" + cert.identity() + ", valid until " + cert.notAfter() + "); CA " + s.caFile());
            if (apiKey) {
                LocalDeployment d = new LocalDeployment(t, System.out);
                try (Clients clients = Clients.operator(t)) {
                    var k = leader(d, clients).createApiKey(CreateApiKeyRequest.newBuilder().setMerchantId(merchantId).build())
                            .await(10, TimeUnit.SECONDS);
                    System.out.println("merchant " + merchantId + ": API key " + k.getApiKey());
                    System.out.println("  (key id " + k.getKeyId() + "; shown once: only its HMAC is stored;"
                            + " send it as 'authorization: Bearer <key>' to the router at 127.0.0.1:" + t.routerPort() + ")");
                }
            }
            return 0;
        }
    }

    @Command(name = "keys", description = "List API keys (of one merchant, or all).")
    public static final class Keys implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", arity = "0..1", defaultValue = "", description = "The merchant id (all when omitted).")
        String merchantId;

        @Override
        public Integer call() throws Exception {
            LogSetup.install("ledger-merchant", Level.WARNING);
            Topology t = Topology.load(deployment.dir());
            try (Clients clients = Clients.operator(t)) {
                var list = leader(new LocalDeployment(t, System.out), clients)
                        .listApiKeys(ListApiKeysRequest.newBuilder().setMerchantId(merchantId).build()).await(10, TimeUnit.SECONDS);
                for (var k : list.getKeysList()) {
                    System.out.printf("%s  merchant %-20s created %s  %s%n", k.getKeyId(), k.getMerchantId(),
                            Instant.ofEpochMilli(k.getCreatedAtMs()), k.getRevokedAtMs() == 0 ? "valid"
                                    : "REVOKED " + Instant.ofEpochMilli(k.getRevokedAtMs()));
                }
                if (list.getKeysCount() == 0) {
                    System.out.println("no API keys");
                }
            }
            return 0;
        }
    }

    @Command(name = "revoke-key", description = "Revoke an API key (takes effect within 5 s).")
    public static final class RevokeKey implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "The key id (./ledger merchant keys).")
        String keyId;

        @Override
        public Integer call() throws Exception {
            LogSetup.install("ledger-merchant", Level.WARNING);
            Topology t = Topology.load(deployment.dir());
            try (Clients clients = Clients.operator(t)) {
                boolean revoked = leader(new LocalDeployment(t, System.out), clients)
                        .revokeApiKey(RevokeApiKeyRequest.newBuilder().setKeyId(keyId).build()).await(10, TimeUnit.SECONDS).getRevoked();
                System.out.println(revoked ? "API key " + keyId + " revoked" : "no valid API key " + keyId);
                return revoked ? 0 : 1;
            }
        }
    }

    @Command(name = "revoke-cert", description = "Revoke a merchant's certificate (the CRL is reloaded by nodes and router"
            + " within seconds).")
    public static final class RevokeCert implements Callable<Integer> {
        @Mixin
        DeploymentOptions deployment;

        @Parameters(index = "0", description = "The merchant id.")
        String merchantId;

        @Override
        public Integer call() {
            LogSetup.install("ledger-merchant", Level.WARNING);
            DeploymentSecurity s = DeploymentSecurity.open(Topology.load(deployment.dir()));
            s.pki().revoke("merchant-" + merchantId);
            System.out.println("merchant " + merchantId + ": certificate revoked (CRL " + s.crlFile() + ")");
            return 0;
        }
    }
}
