/*
 * Starts GraphiQL from the configuration gateway/http/graphiql.py embeds in the page as JSON, so
 * the page itself holds no executable inline script and this file never changes per page.
 * GraphiQLBundle is the global vendor/graphiql.js defines (tools/graphiql/entry.mjs).
 */
(function () {
  'use strict';
  var bundle = window.GraphiQLBundle;
  var config = JSON.parse(document.getElementById('mosaic-graphiql-config').textContent);
  var storage = bundle.createLocalStorage({ namespace: config.storageNamespace });
  var props = {
    // Sent with every request, schema introspection included, even after the user has
    // cleared the headers editor.
    fetcher: withOpenOperation(
      bundle.createGraphiQLFetcher({ url: config.endpoint, headers: config.headers })
    ),
    defaultHeaders: config.headersText,
    // Open on the variables: without this GraphiQL opens on the headers whenever there are
    // default headers, because it looks for variables outside the tabs.
    defaultEditorToolsVisibility: 'variables',
    // GraphiQL prefers tabs saved in localStorage over defaultTabs; a namespace per set of
    // operations keeps a user's edits across reloads but shows new operations when the
    // gateway's set changes.
    storage: storage,
  };
  if (config.operations.length) {
    props.defaultTabs = config.operations.map(function (operation) {
      return { query: operation.query, variables: operation.variables, headers: config.headersText };
    });
    // GraphiQL 3 fills the editors from the active tab's copy under these keys, not from
    // defaultTabs, and finds that tab again on reload by them; seed them until it has
    // saved its tabs (it does so half a second after a change).
    if (!storage.getItem('graphiql:tabState')) {
      storage.setItem('graphiql:query', props.defaultTabs[0].query);
      storage.setItem('graphiql:variables', props.defaultTabs[0].variables);
    }
  }
  // The query builder: fields ticked in a tree of the schema write the operation.
  props.plugins = [bundle.explorerPlugin({ showAttribution: false })];
  if (Object.keys(config.tokens || {}).length) {
    props.toolbar = { additionalComponent: RolePicker };
  }
  var root = bundle.createRoot(document.getElementById('graphiql'));
  root.render(bundle.React.createElement(bundle.GraphiQL, props));

  // GraphiQL learns the operation name from the editor a moment (a debounce) after a tab
  // opens, so a run started at once would send the name of the tab it came from and get
  // "Unknown operation". When the document defines one operation, that is the one to run.
  function withOpenOperation(fetcher) {
    return function (params, options) {
      var names = operationNames(params.query || '');
      if (params.operationName && names.length === 1 && names[0] !== params.operationName) {
        params = Object.assign({}, params, { operationName: names[0] });
      }
      return fetcher(params, options);
    };
  }

  // The names of the operations a document defines; strings and comments are blanked
  // first so a word inside them cannot pass for a definition.
  function operationNames(query) {
    var code = query.replace(/"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*/g, ' ');
    var definition = /\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)/g;
    var names = [];
    var match;
    while ((match = definition.exec(code)) !== null) {
      names.push(match[1]);
    }
    return names;
  }

  // With a development token per role (`mosaic demo`): the role to ask as, a menu in
  // GraphiQL's own toolbar beside prettify, merge and copy. It sets the Authorization
  // header in config.headers, which the fetcher reads at every request; a header typed in
  // a tab's headers editor still wins. The button shows the role's initials.
  function RolePicker() {
    var React = bundle.React;
    var chosen = React.useState(config.role);
    var role = chosen[0];
    var choose = chosen[1];
    var items = Object.keys(config.tokens).map(function (name) {
      return React.createElement(
        bundle.ToolbarMenu.Item,
        {
          key: name,
          'data-role': name,
          'aria-checked': name === role,
          role: 'menuitemradio',
          onSelect: function () {
            config.headers.Authorization = 'Bearer ' + config.tokens[name];
            choose(name);
          },
        },
        (name === role ? '\u2713 ' : '\u2003') + 'as ' + name
      );
    });
    return React.createElement(
      bundle.ToolbarMenu,
      {
        className: 'mosaic-role',
        label: 'Asking as ' + role + ': choose the role (a development token each)',
        button: React.createElement(
          'span',
          { className: 'mosaic-role-initials', 'aria-hidden': 'true' },
          initials(role)
        ),
      },
      items
    );
  }

  function initials(role) {
    return role
      .split('_')
      .map(function (word) {
        return word.charAt(0).toUpperCase();
      })
      .join('');
  }
})();
