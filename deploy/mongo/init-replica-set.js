// Replica-set bootstrap and readiness probe for the `mongo` service (mongosh script).
//
// docker-compose.yml runs this file as the container's healthcheck:
//   mongosh --quiet --norc --file /etc/mongo/init-replica-set.js
// It is idempotent: the first run initiates the single-member replica set `rs0`, every run
// exits 0 only when this node is a writable primary. The services depend on `mongo` being
// healthy, so they start only once majority writes and transactions can succeed.
//
// The member host must be the name the services use (mongodb://mongo:27017/?replicaSet=rs0):
// drivers connect to the hosts listed in the replica-set config, not to the seed address.
const replicaSet = { _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] };

try {
  rs.status();
} catch (error) {
  if (error.codeName !== "NotYetInitialized") {
    throw error;
  }
  rs.initiate(replicaSet);
  print("initiated replica set rs0");
}

if (!db.hello().isWritablePrimary) {
  print("replica set rs0 has no writable primary yet");
  quit(1);
}
