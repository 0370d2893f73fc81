// valibot (brought by @bull-board/api) declares TypeScript as an optional peer for its types only.
// pnpm links optional peers that the workspace root happens to have, which would put the
// TypeScript compiler into the api's production install and image; this drops that peer.
module.exports = {
  hooks: {
    readPackage(pkg) {
      if (pkg.name === "valibot") {
        if (pkg.peerDependencies) delete pkg.peerDependencies.typescript;
        if (pkg.peerDependenciesMeta) delete pkg.peerDependenciesMeta.typescript;
      }
      return pkg;
    },
  },
};
