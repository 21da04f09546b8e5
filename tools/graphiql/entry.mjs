// What the gateway's GraphiQL page needs, as one browser global (GraphiQLBundle) that
// gateway/http/static/graphiql/mosaic-graphiql.js starts GraphiQL with. The CSS imports make
// esbuild write graphiql.css (fonts inlined as data: URLs) beside graphiql.js.
import 'graphiql/graphiql.css';
import '@graphiql/plugin-explorer/dist/style.css';

export { explorerPlugin } from '@graphiql/plugin-explorer';
// the toolbar's own dropdown, for the role picker
export { ToolbarMenu } from '@graphiql/react';
export { createGraphiQLFetcher, createLocalStorage } from '@graphiql/toolkit';
export { GraphiQL } from 'graphiql';
export { default as React } from 'react';
export { createRoot } from 'react-dom/client';
