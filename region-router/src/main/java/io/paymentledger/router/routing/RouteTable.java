package io.paymentledger.router.routing;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.Descriptors.MethodDescriptor;
import com.google.protobuf.Descriptors.ServiceDescriptor;
import io.paymentledger.api.v1.ReadOptions;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The methods the router forwards, derived from the services' proto descriptors. */
public final class RouteTable {

    private final Map<String, Route> routes = new HashMap<>();

    public RouteTable(List<FileDescriptor> files, Set<String> nonIdempotent) {
        for (FileDescriptor f : files) {
            for (ServiceDescriptor s : f.getServices()) {
                for (MethodDescriptor m : s.getMethods()) {
                    String name = s.getFullName() + "/" + m.getName();
                    routes.put(name, new Route(name, m.isClientStreaming(), m.isServerStreaming(),
                            !nonIdempotent.contains(name), readOptionsField(m.getInputType())));
                }
            }
        }
    }

    private static int readOptionsField(Descriptor input) {
        String readOptions = ReadOptions.getDescriptor().getFullName();
        for (FieldDescriptor f : input.getFields()) {
            if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isRepeated()
                    && f.getMessageType().getFullName().equals(readOptions)) {
                return f.getNumber();
            }
        }
        return 0;
    }

    /** The route of {@code fullMethodName}, or null when the router does not forward it. */
    public Route route(String fullMethodName) {
        return routes.get(fullMethodName);
    }

    public Collection<Route> all() {
        return routes.values();
    }
}
