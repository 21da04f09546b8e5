// What the gateway's GraphiQL page needs, as one browser global (GraphiQLBundle) that
// gateway/static/graphiql/mosaic-graphiql.js starts GraphiQL with. The CSS import makes
// esbuild write graphiql.css (fonts inlined as data: URLs) beside graphiql.js.
import 'graphiql/graphiql.css';

export { createGraphiQLFetcher, createLocalStorage } from '@graphiql/toolkit';
export { GraphiQL } from 'graphiql';
export { default as React } from 'react';
export { createRoot } from 'react-dom/client';
