package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/engagehq/engage/store"
)

// keysCmd manages API keys in a store directory. The store's encryption key, if
// any, comes from store.EnvKey or store.EnvKeyFile, never from a flag.
var keysCmd = &cobra.Command{
	Use:   "keys",
	Short: "Create, list and revoke API keys (the store must not be open in a running server)",
}

func init() {
	var dataDir, tenant string
	keysCmd.PersistentFlags().StringVar(&dataDir, "data", "", "store directory")
	keysCmd.PersistentFlags().StringVar(&tenant, "tenant", "", "tenant the keys belong to")
	_ = keysCmd.MarkPersistentFlagRequired("data")
	_ = keysCmd.MarkPersistentFlagRequired("tenant")

	open := func() (*store.DB, error) {
		key, err := store.LoadKeyFromEnv()
		if err != nil {
			return nil, err
		}
		o := store.DefaultOptions()
		o.EncryptionKey = key
		return store.Open(dataDir, o)
	}

	var scopes string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a key and print its token once (it is not stored and cannot be shown again)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := open()
			if err != nil {
				return err
			}
			defer db.Close()
			var sc []string
			for _, s := range strings.Split(scopes, ",") {
				if s = strings.TrimSpace(s); s != "" {
					sc = append(sc, s)
				}
			}
			tok, k, err := db.CreateKey(tenant, sc)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created key %s for tenant %q with scopes %s; the token below is shown only now\n",
				k.ID, k.Tenant, strings.Join(k.Scopes, ","))
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	create.Flags().StringVar(&scopes, "scopes", "", "comma-separated scopes: "+strings.Join(store.Scopes, ", "))
	_ = create.MarkFlagRequired("scopes")

	list := &cobra.Command{
		Use:   "list",
		Short: "List a tenant's keys (ids, scopes, creation and revocation times; never secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := open()
			if err != nil {
				return err
			}
			defer db.Close()
			keys, err := db.ListKeys(tenant)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSCOPES\tCREATED\tREVOKED")
			for _, k := range keys {
				rev := "-"
				if k.Revoked != 0 {
					rev = time.UnixMicro(k.Revoked).UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", k.ID, strings.Join(k.Scopes, ","),
					time.UnixMicro(k.Created).UTC().Format(time.RFC3339), rev)
			}
			return w.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke one of the tenant's keys; requests with it fail from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := open()
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.RevokeKey(tenant, args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.ErrOrStderr(), "revoked key %s of tenant %q\n", args[0], tenant)
			return err
		},
	}

	keysCmd.AddCommand(create, list, revoke)
	root.AddCommand(keysCmd)
}
